"""Export from the sidebar against a real jupyter_server: a real `ft-jupyter export` process merges a real tiny run,
the run list follows its state to the report, and impossible requests are refused before anything is written."""

from __future__ import annotations

import json
import shutil

import pytest
import tornado.httpclient

from ft_jupyter.config import DataConfig, MethodConfig, ModelConfig, RunConfig, TrainingConfig
from ft_jupyter.train.store import RunDir, RunStore


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"ft_jupyter": True}}}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from ft_jupyter.train import run_training

    config = RunConfig(
        name="sidebarexport",
        runs_dir=str(tmp_path_factory.mktemp("trained") / "runs"),
        model=ModelConfig(name="tiny-random"),
        method=MethodConfig(method="lora", r=8, alpha=16, dropout=0.0),
        data=DataConfig(dataset="support-emails", max_rows=120),
        training=TrainingConfig(
            max_steps=10, batch_size=8, learning_rate=5e-3, max_seq_len=128, warmup_ratio=0.0, seed=7
        ),
    )
    return run_training(config).run_dir.path


def _copy(trained, root) -> RunDir:
    target = root / "runs" / trained.name
    shutil.copytree(trained, target)
    return RunDir(target)


async def _get(jp_fetch, *parts):
    return json.loads((await jp_fetch("ft-jupyter", *parts)).body)


async def _error(jp_fetch, *parts, **kwargs):
    with pytest.raises(tornado.httpclient.HTTPClientError) as caught:
        await jp_fetch("ft-jupyter", *parts, **kwargs)
    return caught.value.code, json.loads(caught.value.response.body)["message"]


async def test_export_runs_in_its_own_process_and_the_list_follows_it(jp_fetch, jp_root_dir, trained, wait_for):
    import asyncio

    run = _copy(trained, jp_root_dir)
    body = json.dumps({"dtype": "float32"})
    response = await jp_fetch("ft-jupyter", "runs", run.run_id, "export", method="POST", body=body)
    reply = json.loads(response.body)
    assert response.code == 202 and reply["state"] == "running" and reply["pid"] > 0
    listed = {r["id"]: r for r in (await _get(jp_fetch, "runs"))["runs"]}
    assert listed[run.run_id]["export"]["state"] == "running"
    # A second Export while the first runs is refused and changes nothing.
    code, message = await _error(jp_fetch, "runs", run.run_id, "export", method="POST", body=body)
    assert code == 409 and "already running" in message
    for _ in range(1200):  # the child imports torch and merges: seconds, not minutes
        status = (await _get(jp_fetch, "runs", run.run_id, "export"))["status"]
        if status["state"] != "running":
            break
        await asyncio.sleep(0.1)
    log = (run.path / "export" / "export.log").read_text()
    assert status["state"] == "finished", log
    detail = await _get(jp_fetch, "runs", run.run_id, "export")
    assert detail["report"]["merge"]["ok"] and detail["report"]["merge"]["dtype"] == "float32"
    listed = {r["id"]: r for r in (await _get(jp_fetch, "runs"))["runs"]}
    assert listed[run.run_id]["export"] == {
        "state": "finished",
        "message": "verified",
        "report": f"runs/{run.run_id}/export/REPORT.md",
    }
    assert (run.path / "export" / "merged-float32" / "model.safetensors").is_file()


@pytest.mark.parametrize(
    "body, message",
    [
        ({"gguf": ["q4_k"]}, "gguf 'q4_k' is not one of"),
        ({"ollama": True}, "add --gguf"),
        ({"dtype": "int3"}, "dtype 'int3' is not one of"),
        ({"quantise": ["4bit"]}, "unknown export option 'quantise'"),
        ({"throughput": "1,4"}, "are lists"),
    ],
)
async def test_impossible_requests_are_400_and_write_nothing(jp_fetch, jp_root_dir, trained, body, message):
    run = _copy(trained, jp_root_dir)
    code, text = await _error(jp_fetch, "runs", run.run_id, "export", method="POST", body=json.dumps(body))
    assert code == 400 and message in text
    assert not (run.path / "export").exists()


async def test_a_run_that_cannot_be_exported_is_409(jp_fetch, jp_root_dir):
    store = RunStore(jp_root_dir / "runs")
    running = store.create(RunConfig(name="live", model=ModelConfig(name="tiny-random")))
    running.set_status("running", "training")
    code, text = await _error(jp_fetch, "runs", running.run_id, "export", method="POST", body="{}")
    assert code == 409 and "once it has finished" in text
    empty = store.create(RunConfig(name="empty", model=ModelConfig(name="tiny-random")))
    empty.set_status("failed", "out of memory")
    code, text = await _error(jp_fetch, "runs", empty.run_id, "export", method="POST", body="{}")
    assert code == 409 and "no adapter/ or model/ folder" in text
    for run in (running, empty):
        assert not (run.path / "export").exists()
