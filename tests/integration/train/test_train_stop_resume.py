"""Runs survive: a stop request (API or STOP file) and a killed process leave a saved, resumable run, and resuming
ends at the planned final step with the same weights as a run that was never interrupted. (Ctrl-C in a real
process: tests/integration/train/test_train_kernel.py.)"""

import json
import os
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.integration


def _lora_weights(model):
    return {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}


@pytest.fixture(scope="module")
def uninterrupted(tiny):
    from ft_jupyter.train import run_training

    result = run_training(tiny(**{"training.save_steps": 2}))
    return _lora_weights(result.model)


def test_a_background_run_stops_on_request_and_resumes_to_the_same_weights(tiny, events_of, uninterrupted):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from ft_jupyter.models.catalogue import resolve
    from ft_jupyter.train import resume, start_training

    holder = []

    def stop_at_three(event):
        if event.type == "step" and event.step == 3:
            holder[0].stop("enough for a test")

    holder.append(start_training(tiny(**{"training.save_steps": 2}), [stop_at_three]))
    handle = holder[0]
    # This thread stays free while the run trains: it reads the log as it is written, and every line parses.
    seen, offset, reads = [], 0, 0
    while not handle.done:
        events, offset = handle.run_dir.read_events(offset)
        seen += events
        for line in (
            handle.run_dir.events_path.read_text().splitlines(keepends=True)
            if handle.run_dir.events_path.exists()
            else []
        ):
            if line.endswith("\n"):
                json.loads(line)
        reads += 1
        time.sleep(0.02)
    result = handle.wait()
    seen += handle.run_dir.read_events(offset)[0]
    assert reads > 10 and seen == events_of(handle.run_dir)

    # Stopped at the end of the step after the request, with the adapter and a checkpoint of that step saved.
    assert (result.state, result.steps, result.reason) == ("stopped", 4, "enough for a test")
    assert handle.run_dir.status()["state"] == "stopped" and "enough for a test" in handle.run_dir.status()["message"]
    assert seen[-1]["type"] == "stopped" and seen[-1]["checkpoint"].endswith("checkpoint-4")
    assert handle.run_dir.last_checkpoint().name == "checkpoint-4"
    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(resolve("tiny-random")), str(result.artifact_path))

    resumed = resume(handle.run_dir)
    assert (resumed.state, resumed.steps) == ("finished", 8)
    starts = [e for e in events_of(handle.run_dir) if e["type"] == "run_started"]
    assert [e["resumed_from_step"] for e in starts] == [0, 4]
    steps = [e["step"] for e in events_of(handle.run_dir) if e["type"] == "step"]
    assert steps == list(range(1, 9))  # nothing trained twice, nothing skipped
    for name, weight in _lora_weights(resumed.model).items():
        assert torch.allclose(weight, uninterrupted[name], atol=1e-5), name


def test_a_stop_file_ends_the_run_at_the_next_step(tiny):
    from ft_jupyter.train import run_training
    from ft_jupyter.train.store import RunStore

    config = tiny()
    run_dir = RunStore(config.runs_dir).create(config)

    def sidebar_stop(event):
        if event.type == "step" and event.step == 2:
            run_dir.request_stop("stopped from the sidebar")

    result = run_training(config, [sidebar_stop], run=run_dir)
    assert (result.state, result.steps) == ("stopped", 3)
    assert (result.artifact_path / "adapter_model.safetensors").is_file()
    assert run_dir.status()["state"] == "stopped" and "stopped from the sidebar" in run_dir.status()["message"]


def _cli_train(config, tmp_path):
    path = tmp_path / "run.yaml"
    config.save(path)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "ft_jupyter.cli", "train", str(path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _run_reaching(config, step, wait_for):
    from ft_jupyter.train.store import RunStore

    def reached():
        runs = RunStore(config.runs_dir).list_runs()
        return runs and any(e["type"] == "step" and e["step"] >= step for e in runs[0].read_events(0)[0])

    wait_for(reached, timeout=600.0, what=f"step {step}")
    return RunStore(config.runs_dir).list_runs()[0]


def test_a_killed_cli_run_reads_as_stopped_and_the_cli_resumes_it_from_its_last_checkpoint(tiny, tmp_path, wait_for):
    from ft_jupyter.cli import main

    config = tiny(**{"training.max_steps": 8, "training.save_steps": 3, "runs_dir": str(tmp_path / "runs")})
    proc = _cli_train(config, tmp_path)
    run = _run_reaching(config, 4, wait_for)  # checkpoint-3 is on disk once step 4 is logged
    proc.kill()  # like a kernel restart: no chance to write anything
    proc.communicate(timeout=60)
    last = run.last_checkpoint()  # checkpoint-3, or a later one if the process got further before dying
    status = run.status()
    assert status["state"] == "stopped" and status["stale"] and last.name in status["message"]
    assert main(["resume", run.run_id, "--runs-dir", config.runs_dir]) == 0
    assert run.status()["state"] == "finished" and run.status()["step"] == 8
    starts = [e for e in run.read_events(0)[0] if e["type"] == "run_started"]
    assert [e["resumed_from_step"] for e in starts] == [0, int(last.name.split("-")[1])]
