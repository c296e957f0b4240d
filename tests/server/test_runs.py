"""Run endpoints against a real jupyter_server: list, detail, events paged by offset while a writer appends,
stop writes the flag the trainer honours, and every path from the browser stays inside the runs root."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
import tornado.httpclient

from ft_jupyter.config import ModelConfig, RunConfig
from ft_jupyter.train.events import Finished, RunStarted, Step
from ft_jupyter.train.store import RunDir, RunStore, current_user


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"ft_jupyter": True}}}


def _step(step: int, loss: float, max_steps: int = 50) -> dict:
    return Step(
        step=step,
        max_steps=max_steps,
        epoch=step / max_steps,
        loss=loss,
        learning_rate=1e-3,
        grad_norm=1.0,
        tokens_seen=100 * step,
        tokens_per_second=500.0,
        memory_mb=None,
        elapsed_s=0.5 * step,
        eta_s=0.5 * (max_steps - step),
        cost_so_far=0.001 * step,
    ).to_json()


def _started(run: RunDir, max_steps: int = 50) -> dict:
    return RunStarted(
        run_id=run.run_id,
        config=run.config().to_dict(),
        device="cpu",
        precision="fp32",
        precision_reason="no GPU",
        params_total=1000,
        params_trainable=10,
        train_rows=100,
        eval_rows=10,
        max_steps=max_steps,
    ).to_json()


def _new_run(root: Path, name: str = "tiny", state: str = "running") -> RunDir:
    run = RunStore(root / "runs").create(RunConfig(name=name, model=ModelConfig(name="tiny-random")))
    run.set_status(state, f"{state} for the test")
    return run


async def _get(jp_fetch, *parts: str, **kwargs):
    response = await jp_fetch("ft-jupyter", *parts, **kwargs)
    return json.loads(response.body)


async def _error(jp_fetch, *parts: str, **kwargs) -> tuple[int, str]:
    with pytest.raises(tornado.httpclient.HTTPClientError) as caught:
        await jp_fetch("ft-jupyter", *parts, **kwargs)
    return caught.value.code, json.loads(caught.value.response.body)["message"]


async def test_runs_lists_runs_with_status_and_config_summary(jp_fetch, jp_root_dir):
    older = _new_run(jp_root_dir, "first", state="finished")
    (older.path / "adapter").mkdir()
    newer = _new_run(jp_root_dir, "second")
    body = await _get(jp_fetch, "runs")
    assert body["root"] == str((jp_root_dir / "runs").resolve())
    assert body["browser_root"] == "runs"
    assert [run["id"] for run in body["runs"]] == sorted([older.run_id, newer.run_id], reverse=True)
    by_id = {run["id"]: run for run in body["runs"]}
    assert by_id[older.run_id]["state"] == "finished"
    assert by_id[older.run_id]["artifact"] == "adapter"
    assert by_id[newer.run_id] | {"updated": None} == {
        "id": newer.run_id,
        "name": "second",
        "model": "tiny-random",
        "method": "lora",
        "max_steps": -1,
        "state": "running",
        "message": "running for the test",
        "updated": None,
        "stale": False,
        "stop_requested": False,
        "artifact": None,
        "browser_path": f"runs/{newer.run_id}",
        "export": None,
        "owner": current_user(),
        "mine": True,
        "trace": {"step": None, "max_steps": None, "eta_s": None, "cost": None, "end": None, "loss": []},
    }


async def test_runs_is_empty_before_any_run(jp_fetch):
    body = await _get(jp_fetch, "runs")
    assert body["runs"] == []


async def test_run_detail_has_config_and_checkpoints(jp_fetch, jp_root_dir):
    run = _new_run(jp_root_dir)
    (run.checkpoints_dir / "checkpoint-5").mkdir(parents=True)
    (run.checkpoints_dir / "checkpoint-5" / "trainer_state.json").write_text("{}")
    body = await _get(jp_fetch, "runs", run.run_id)
    assert body["config"] == run.config().to_dict()
    assert body["checkpoints"] == ["checkpoint-5"]
    assert body["status"]["state"] == "running"


async def test_events_page_by_offset_while_a_run_writes(jp_fetch, jp_root_dir):
    run = _new_run(jp_root_dir)
    run.append_event(_started(run))
    written = threading.Event()

    def writer():
        for step in range(1, 51):
            # Half a line first, then the rest: a reader must never get a partial event.
            line = json.dumps(_step(step, 3.0 - step / 25)) + "\n"
            with open(run.events_path, "a", encoding="utf-8") as fh:
                fh.write(line[:20])
                fh.flush()
                fh.write(line[20:])
        run.append_event(Finished(step=50, train_loss=1.0, elapsed_s=25.0, artifact_path="adapter").to_json())
        written.set()

    thread = threading.Thread(target=writer)
    thread.start()
    seen, offset, pages = [], 0, 0
    while True:
        done = written.is_set()
        body = await _get(jp_fetch, "runs", run.run_id, "events", params={"since": offset})
        assert body["next"] >= offset
        seen += body["events"]
        offset, pages = body["next"], pages + 1
        if done and not body["events"]:
            break
    thread.join()
    assert [e["type"] for e in seen] == ["run_started", *["step"] * 50, "finished"]
    assert [e["step"] for e in seen if e["type"] == "step"] == list(range(1, 51))
    assert offset == run.events_path.stat().st_size
    assert pages >= 2


async def test_events_of_a_run_without_events_file(jp_fetch, jp_root_dir):
    run = _new_run(jp_root_dir, state="queued")
    body = await _get(jp_fetch, "runs", run.run_id, "events")
    assert body == {"events": [], "next": 0, "more": False, "state": "queued"}


async def test_events_turn_nan_loss_into_null(jp_fetch, jp_root_dir):
    run = _new_run(jp_root_dir)
    run.append_event(_step(1, float("nan")))
    body = await _get(jp_fetch, "runs", run.run_id, "events")
    assert body["events"][0]["loss"] is None


@pytest.mark.parametrize("since", ["-1", "abc", "1.5"])
async def test_events_bad_offset_is_400(jp_fetch, jp_root_dir, since):
    run = _new_run(jp_root_dir)
    code, message = await _error(jp_fetch, "runs", run.run_id, "events", params={"since": since})
    assert code == 400
    assert "offset" in message


async def test_events_offset_inside_a_line_is_400(jp_fetch, jp_root_dir):
    run = _new_run(jp_root_dir)
    run.append_event(_step(1, 2.0))
    code, message = await _error(jp_fetch, "runs", run.run_id, "events", params={"since": "7"})
    assert code == 400
    assert "start at 0" in message


async def test_stop_writes_the_flag_the_trainer_reads(jp_fetch, jp_root_dir):
    run = _new_run(jp_root_dir)
    response = await jp_fetch("ft-jupyter", "runs", run.run_id, "stop", method="POST", body="")
    assert response.code == 202
    assert run.stop_requested()
    listed = await _get(jp_fetch, "runs")
    assert listed["runs"][0]["stop_requested"] is True


async def test_stop_of_a_finished_run_is_refused(jp_fetch, jp_root_dir):
    run = _new_run(jp_root_dir, state="finished")
    code, message = await _error(jp_fetch, "runs", run.run_id, "stop", method="POST", body="")
    assert code == 409
    assert "finished" in message
    assert not run.stop_requested()


@pytest.mark.parametrize("run_id", ["..", "%2E%2E", "..%2F..%2Fetc", "%2Fetc", "a%5C..%5Cb", "C:x"])
async def test_traversal_run_ids_are_refused(jp_fetch, jp_root_dir, run_id):
    _new_run(jp_root_dir)
    (jp_root_dir / "config.yaml").write_text(RunConfig().to_yaml())  # what '..' would reach
    for parts in (("runs", run_id), ("runs", run_id, "events"), ("runs", run_id, "stop")):
        method = "POST" if parts[-1] == "stop" else "GET"
        code, message = await _error(jp_fetch, *parts, method=method, body="" if method == "POST" else None)
        assert code in (400, 404), (parts, code)
        assert "run" in message.lower()
    assert not (jp_root_dir / "STOP").exists()


async def test_unknown_run_is_404(jp_fetch, jp_root_dir):
    code, message = await _error(jp_fetch, "runs", "20990101-000000-nope")
    assert code == 404
    assert "20990101-000000-nope" in message


async def test_symlinked_run_folder_outside_root_is_refused(jp_fetch, jp_root_dir, tmp_path):
    outside = _new_run(tmp_path / "elsewhere")
    outside.append_event(_step(1, 2.0))
    (jp_root_dir / "runs").mkdir()
    os.symlink(outside.path, jp_root_dir / "runs" / "sneaky")
    code, message = await _error(jp_fetch, "runs", "sneaky", "events")
    assert code == 400
    assert "outside" in message
    code, _ = await _error(jp_fetch, "runs", "sneaky", "stop", method="POST", body="")
    assert code == 400
    assert not outside.stop_requested()
    assert (await _get(jp_fetch, "runs"))["runs"] == []


async def test_symlinked_events_file_outside_run_is_refused(jp_fetch, jp_root_dir, tmp_path):
    run = _new_run(jp_root_dir)
    secret = tmp_path / "secret.jsonl"
    secret.write_text(json.dumps({"type": "step", "secret": "do not show"}) + "\n")
    os.symlink(secret, run.events_path)
    code, message = await _error(jp_fetch, "runs", run.run_id, "events")
    assert code == 400
    assert "do not show" not in message


SETTING = {"ServerApp": {"jpserver_extensions": {"ft_jupyter": True}}, "FtJupyter": {"runs_dir": "experiments/runs"}}


@pytest.mark.parametrize("jp_server_config", [SETTING])
async def test_runs_root_is_a_server_setting(jp_fetch, jp_root_dir):
    default = _new_run(jp_root_dir, "in-default-root")
    configured = RunStore(jp_root_dir / "experiments" / "runs").create(RunConfig(name="configured"))
    body = await _get(jp_fetch, "runs")
    assert body["browser_root"] == "experiments/runs"
    assert [run["id"] for run in body["runs"]] == [configured.run_id]
    code, _ = await _error(jp_fetch, "runs", default.run_id)
    assert code == 404
