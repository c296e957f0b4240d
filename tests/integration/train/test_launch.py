"""Multi-process runs for real, on CPU processes over gloo (loopback only): DDP trains like one process at the same
global batch, ZeRO-2/3 through DeepSpeed do too, Stop ends every rank with the adapter saved, Ctrl-C of the launcher
is a graceful stop, a killed rank marks the run failed with its cause, and the FSDP config's wrap class shards a
real model under torch's FSDP2."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ft_jupyter.config import DataConfig, MethodConfig, ModelConfig, RunConfig, TrainingConfig

pytestmark = pytest.mark.integration


def _config(runs_dir, name, *, batch=4, steps=10) -> RunConfig:
    return RunConfig(
        name=name,
        runs_dir=str(runs_dir),
        model=ModelConfig(name="tiny-random"),
        method=MethodConfig(method="lora", r=8, alpha=16, dropout=0.0),
        data=DataConfig(dataset="support-emails", max_rows=120),
        training=TrainingConfig(
            max_steps=steps, batch_size=batch, learning_rate=5e-3, max_seq_len=96, warmup_ratio=0.0, seed=7
        ),
    )


def _adapter(run_path):
    from safetensors.torch import load_file

    return load_file(str(Path(run_path) / "adapter" / "adapter_model.safetensors"))


def _max_diff(a, b) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def _steps(run_dir) -> list[dict]:
    events, _ = run_dir.read_events(0)
    return events


def _wait_for_steps(run_dir, n, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(e["type"] == "step" for e in _steps(run_dir)) >= n:
            return
        time.sleep(0.2)
    raise AssertionError(
        f"no {n} steps within {timeout} s; launch.log:\n" + (run_dir.path / "launch" / "launch.log").read_text()[-3000:]
    )


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """One process at global batch 8: what two processes at batch 4 each must reproduce."""
    from ft_jupyter.train import run_training

    return run_training(_config(tmp_path_factory.mktemp("one"), "one", batch=8)).run_dir


@pytest.fixture(scope="module")
def ddp(tmp_path_factory):
    from ft_jupyter.train.launch import start_launch

    handle = start_launch(_config(tmp_path_factory.mktemp("ddp"), "ddp"), processes=2, strategy="ddp")
    handle.wait(600)
    return handle


def test_two_processes_train_like_one_at_the_same_global_batch(ddp, single):
    status = ddp.run_dir.status()
    log = (ddp.run_dir.path / "launch" / "launch.log").read_text()
    assert status["state"] == "finished", log[-3000:]
    assert ddp.returncode == 0 and "2 processes, strategy ddp" in log
    assert "rank 0: finished" in log and "rank 1: finished" in log
    # The weights of one process reading all 8 rows of each step, so the two ranks read different halves. Measured:
    # 6.7e-4 apart (Adam magnifies summation-order noise in near-zero gradients), against 4.0e-2 from one process
    # reading 4 rows a step, which is what two ranks reading the same rows would give.
    assert _max_diff(_adapter(ddp.run_dir.path), _adapter(single.path)) < 5e-3
    events = _steps(ddp.run_dir)
    steps = [e["step"] for e in events if e["type"] == "step"]
    assert steps == sorted(set(steps)) and steps[-1] == 10  # one clean log: rank 0 alone writes
    assert [e["type"] for e in events].count("run_started") == 1 and events[-1]["type"] == "finished"
    losses = [e["loss"] for e in events if e["type"] == "step"]
    assert losses[-1] < 0.8 * losses[0]
    launch = ddp.run_dir.path / "launch"
    assert {p.name for p in launch.iterdir()} >= {"accelerate.yaml", "command.txt", "launch.log"}
    assert "ft_jupyter.train.worker" in (launch / "command.txt").read_text()


def test_an_epoch_on_two_processes_is_each_ones_half_of_the_rows(tmp_path):
    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.train.launch import start_launch

    config = _config(tmp_path, "epoch").with_overrides({"training.max_steps": -1, "training.epochs": 1})
    rows = len(prepare(config.data, seed=config.training.seed).train)
    handle = start_launch(config, processes=2, strategy="ddp")
    handle.wait(600)
    events = _steps(handle.run_dir)
    assert handle.run_dir.status()["state"] == "finished"
    # Each process reads ceil(rows / 2) rows an epoch, 4 a step; one process would need twice the steps.
    expected = math.ceil(math.ceil(rows / 2) / 4)
    started = next(e for e in events if e["type"] == "run_started")
    assert (
        started["max_steps"] == expected
        and started["num_devices"] == 2
        and [e["step"] for e in events if e["type"] == "step"][-1] == expected
    )


@pytest.mark.parametrize("strategy", ["zero2", "zero3"])
def test_deepspeed_zero_trains_like_ddp(tmp_path, ddp, strategy):
    pytest.importorskip("deepspeed")
    from ft_jupyter.train.launch import start_launch

    handle = start_launch(_config(tmp_path, strategy), processes=2, strategy=strategy)
    status = handle.wait(600)
    assert status["state"] == "finished", (handle.run_dir.path / "launch" / "launch.log").read_text()[-3000:]
    ds = json.loads((handle.run_dir.path / "launch" / "deepspeed.json").read_text())
    assert ds["zero_optimization"]["stage"] == int(strategy[-1])
    # ZeRO-3 gathers its sharded weights to save: a whole adapter, equal to DDP's (measured 1e-8 / 1e-5 apart).
    assert _max_diff(_adapter(handle.run_dir.path), _adapter(ddp.run_dir.path)) < 1e-3


def test_stop_ends_every_rank_after_the_same_step_with_the_adapter_saved(tmp_path):
    from ft_jupyter.train.launch import start_launch

    handle = start_launch(_config(tmp_path, "stopme", steps=3000), processes=2, strategy="ddp")
    _wait_for_steps(handle.run_dir, 3)
    handle.stop("enough")
    status = handle.wait(300)
    log = (handle.run_dir.path / "launch" / "launch.log").read_text()
    assert status["state"] == "stopped" and "enough" in status["message"], log[-3000:]
    assert handle.returncode == 0 and "rank 0: stopped" in log and "rank 1: stopped" in log
    assert (handle.run_dir.path / "adapter" / "adapter_model.safetensors").is_file()
    assert _steps(handle.run_dir)[-1]["type"] == "stopped"


def test_ctrl_c_of_the_launcher_is_a_graceful_stop(tmp_path):
    config = _config(tmp_path / "runs", "ctrlc", steps=3000)
    config.save(tmp_path / "run.yaml")
    # A shell that starts the suite in the background hands its children SIGINT ignored, and Python then never
    # raises KeyboardInterrupt: give the launcher the default disposition a terminal's Ctrl-C meets.
    launcher = subprocess.Popen(
        [sys.executable, "-m", "ft_jupyter.cli", "launch", str(tmp_path / "run.yaml"), "--processes", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    from ft_jupyter.train.store import RunStore

    deadline = time.monotonic() + 120
    while not RunStore(tmp_path / "runs").list_runs() and time.monotonic() < deadline:
        time.sleep(0.2)
    run = RunStore(tmp_path / "runs").list_runs()[0]
    _wait_for_steps(run, 3)
    launcher.send_signal(signal.SIGINT)
    out, _ = launcher.communicate(timeout=300)
    assert launcher.returncode == 0, out[-3000:]
    ends = [(e["type"], e.get("step"), e.get("reason")) for e in _steps(run) if e["type"] in ("finished", "stopped")]
    assert run.status()["state"] == "stopped" and "Ctrl-C of the launcher" in run.status()["message"], (
        f"status {run.status()}; end events {ends}; STOP file: {run.stop_requested()}; launcher output:\n{out[-3000:]}"
    )
    assert (run.path / "adapter" / "adapter_model.safetensors").is_file()
    assert "stopping after the current step" in out


def test_a_killed_rank_marks_the_run_failed_with_its_cause(tmp_path):
    from ft_jupyter.train.launch import start_launch

    handle = start_launch(_config(tmp_path, "killed", steps=3000), processes=2, strategy="ddp")
    _wait_for_steps(handle.run_dir, 2)
    workers = subprocess.run(
        ["pgrep", "-f", f"ft_jupyter.train.worker {handle.run_dir.path}"], capture_output=True, text=True
    ).stdout.split()
    rank1 = [int(pid) for pid in workers if b"RANK=1" in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")]
    assert len(rank1) == 1
    os.kill(rank1[0], signal.SIGKILL)  # what the kernel's out-of-memory killer does
    status = handle.wait(300)
    assert status["state"] == "failed" and handle.returncode != 0
    assert "rank 1 died (SIGKILL)" in status["message"], status["message"]
    assert _steps(handle.run_dir)[-1]["type"] == "failed"


FSDP2_SCRIPT = r"""
import json, sys
import torch, torch.distributed as dist
from torch.distributed.fsdp import fully_shard
from transformers import AutoModelForCausalLM
from peft import LoraConfig, get_peft_model

dist.init_process_group("gloo")
wrap = sys.argv[2]
model = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32)
model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", lora_dropout=0.0))
units = [m for m in model.modules() if type(m).__name__ == wrap]
for unit in units:
    fully_shard(unit)
fully_shard(model)
params = [p for p in model.parameters() if p.requires_grad]
optimizer = torch.optim.AdamW(params, lr=1e-2)
torch.manual_seed(0)
ids = torch.randint(0, 1000, (2, 24))
losses = []
for _ in range(4):
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    losses.append(float(loss.detach()))
print(json.dumps({"rank": dist.get_rank(), "units": len(units), "losses": losses}), flush=True)
dist.barrier()
dist.destroy_process_group()
"""


def test_the_fsdp_config_wraps_the_decoder_layer_and_that_shards_for_real(tmp_path):
    import yaml

    from ft_jupyter.models.catalogue import resolve
    from ft_jupyter.train.launch import free_port, write_launch_files
    from ft_jupyter.train.store import RunStore

    config = _config(tmp_path / "runs", "fsdp").with_overrides({"quantization.mode": "4bit", "method.method": "qlora"})
    run = RunStore(config.runs_dir).create(config)
    write_launch_files(config, run, processes=2, strategy="fsdp", offload=False, cuda=True)
    settings = yaml.safe_load((run.path / "launch" / "accelerate.yaml").read_text())
    fsdp = settings["fsdp_config"]
    assert settings["distributed_type"] == "FSDP" and fsdp["fsdp_version"] == 2
    assert fsdp["fsdp_transformer_layer_cls_to_wrap"] == "LlamaDecoderLayer"
    assert fsdp["fsdp_state_dict_type"] == "FULL_STATE_DICT"  # the saved adapter is whole, not one shard a rank
    # QLoRA under FSDP stores the packed 4-bit weights in the compute dtype.
    from ft_jupyter.train.translate import Precision, bnb_config

    os.environ["FT_JUPYTER_STRATEGY"] = "fsdp"
    try:
        import torch

        quant = bnb_config(config, Precision("bf16", "cuda", "test"))
        assert quant.bnb_4bit_quant_storage == torch.bfloat16
    finally:
        del os.environ["FT_JUPYTER_STRATEGY"]
    # The class the config names is the unit torch's FSDP2 shards: two CPU processes, gloo, a LoRA model.
    script = tmp_path / "fsdp2.py"
    script.write_text(FSDP2_SCRIPT)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            str(free_port()),
            str(script),
            resolve("tiny-random"),
            fsdp["fsdp_transformer_layer_cls_to_wrap"],
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert sorted(r["rank"] for r in results) == [0, 1]
    for r in results:
        assert r["units"] == 4 and r["losses"][-1] < r["losses"][0]
