"""A class on one runs root, against a real jupyter_server: every run names its owner, the list shows the
requester's runs unless asked for the class's, nobody but the owner or an instructor may stop or export a run (403,
nothing written), and the list carries each run's progress read once from its events, however many poll it."""

from __future__ import annotations

import json

import pytest
import tornado.httpclient

from ft_jupyter.config import ModelConfig, RunConfig
from ft_jupyter.server.traces import MAX_POINTS
from ft_jupyter.train.events import Finished, Step
from ft_jupyter.train.store import RunDir, RunStore, current_user

ME = current_user()
CLASS = {"ServerApp": {"jpserver_extensions": {"ft_jupyter": True}}}
WITH_INSTRUCTOR = {**CLASS, "FtJupyter": {"instructors": [ME]}}


@pytest.fixture
def jp_server_config():
    return CLASS


def _run(root, name: str, owner: str | None = None, state: str = "running") -> RunDir:
    run = RunStore(root / "runs").create(RunConfig(name=name, model=ModelConfig(name="tiny-random")))
    run.set_status(state, f"{state} for the test", **({"owner": owner} if owner else {}))
    return run


def _step(step: int, loss: float, max_steps: int = 400) -> dict:
    return Step(
        step=step,
        max_steps=max_steps,
        epoch=0.0,
        loss=loss,
        learning_rate=1e-3,
        grad_norm=1.0,
        tokens_seen=step,
        tokens_per_second=1.0,
        memory_mb=None,
        elapsed_s=float(step),
        eta_s=float(max_steps - step),
        cost_so_far=0.01 * step,
    ).to_json()


async def _get(jp_fetch, *parts, **params):
    return json.loads((await jp_fetch("ft-jupyter", *parts, params=params)).body)


async def _error(jp_fetch, *parts, **kwargs) -> tuple[int, str]:
    with pytest.raises(tornado.httpclient.HTTPClientError) as caught:
        await jp_fetch("ft-jupyter", *parts, **kwargs)
    return caught.value.code, json.loads(caught.value.response.body)["message"]


def test_a_new_run_records_who_started_it(tmp_path, monkeypatch):
    assert RunStore(tmp_path).create(RunConfig(name="mine")).status()["owner"] == ME
    monkeypatch.setenv("JUPYTERHUB_USER", "grace")
    assert RunStore(tmp_path).create(RunConfig(name="hub")).owner() == "grace"


def test_a_run_from_before_owners_belongs_to_its_folder_owner(tmp_path):
    run = RunStore(tmp_path).create(RunConfig(name="old"))
    status = json.loads((run.path / "status.json").read_text())
    del status["owner"]
    (run.path / "status.json").write_text(json.dumps(status))
    assert run.owner() == ME


def test_runs_in_a_shared_root_are_group_writable_and_elsewhere_are_not(tmp_path):
    shared = tmp_path / "class"
    shared.mkdir()
    shared.chmod(0o2775)
    assert RunStore(shared).create(RunConfig(name="a")).path.stat().st_mode & 0o7777 == 0o2775
    private = RunStore(tmp_path / "own").create(RunConfig(name="b")).path.stat().st_mode & 0o7777
    assert not private & 0o020


async def test_the_list_shows_my_runs_unless_asked_for_the_class(jp_fetch, jp_root_dir):
    mine = _run(jp_root_dir, "mine")
    theirs = _run(jp_root_dir, "theirs", owner="bob")
    body = await _get(jp_fetch, "runs")
    assert [run["id"] for run in body["runs"]] == [mine.run_id]
    assert body["user"] == ME and body["scope"] == "mine" and body["instructor"] is False
    assert body["counts"] == {"mine": 1, "class": 2}
    everyone = await _get(jp_fetch, "runs", scope="class")
    assert {run["id"]: (run["owner"], run["mine"]) for run in everyone["runs"]} == {
        mine.run_id: (ME, True),
        theirs.run_id: ("bob", False),
    }
    code, message = await _error(jp_fetch, "runs", params={"scope": "all"})
    assert code == 400 and "scope=class" in message


async def test_reading_another_participants_run_is_allowed(jp_fetch, jp_root_dir):
    theirs = _run(jp_root_dir, "theirs", owner="bob")
    theirs.append_event(_step(1, 2.0))
    assert (await _get(jp_fetch, "runs", theirs.run_id))["owner"] == "bob"
    assert len((await _get(jp_fetch, "runs", theirs.run_id, "events"))["events"]) == 1


async def test_stopping_another_participants_run_is_403_and_writes_nothing(jp_fetch, jp_root_dir):
    theirs = _run(jp_root_dir, "theirs", owner="bob")
    before = sorted(p.name for p in theirs.path.iterdir())
    status = (theirs.path / "status.json").read_bytes()
    code, message = await _error(jp_fetch, "runs", theirs.run_id, "stop", method="POST", body="")
    assert code == 403
    assert "belongs to bob" in message and ME in message
    assert not theirs.stop_requested()
    assert sorted(p.name for p in theirs.path.iterdir()) == before
    assert (theirs.path / "status.json").read_bytes() == status


async def test_exporting_another_participants_run_is_403_before_anything_starts(jp_fetch, jp_root_dir):
    theirs = _run(jp_root_dir, "theirs", owner="bob", state="finished")
    (theirs.path / "adapter").mkdir()
    code, message = await _error(jp_fetch, "runs", theirs.run_id, "export", method="POST", body="{}")
    assert code == 403 and "belongs to bob" in message
    assert not (theirs.path / "export").exists()


@pytest.mark.parametrize("jp_server_config", [WITH_INSTRUCTOR])
async def test_an_instructor_may_stop_anyones_run(jp_fetch, jp_root_dir):
    theirs = _run(jp_root_dir, "theirs", owner="bob")
    response = await jp_fetch("ft-jupyter", "runs", theirs.run_id, "stop", method="POST", body="")
    assert response.code == 202
    assert f"by {ME}" in theirs.stop_path.read_text()
    assert (await _get(jp_fetch, "runs"))["instructor"] is True


async def test_the_list_carries_progress_and_a_bounded_loss_series(jp_fetch, jp_root_dir):
    run = _run(jp_root_dir, "long")
    for step in range(1, 401):
        run.append_event(_step(step, 3.0 - step / 200))
    trace = (await _get(jp_fetch, "runs"))["runs"][0]["trace"]
    assert trace["step"] == 400 and trace["max_steps"] == 400 and trace["end"] is None
    assert trace["eta_s"] == 0.0 and trace["cost"] == pytest.approx(4.0)
    assert MAX_POINTS <= len(trace["loss"]) <= 2 * MAX_POINTS + 1
    assert trace["loss"][0] == [1, pytest.approx(2.995)] and trace["loss"][-1] == [400, pytest.approx(1.0)]
    steps = [point[0] for point in trace["loss"]]
    assert steps == sorted(steps)
    run.append_event(_step(401, 0.5, max_steps=401))
    run.append_event(Finished(step=401, train_loss=0.5, elapsed_s=401.0, artifact_path="adapter", cost=4.5).to_json())
    trace = (await _get(jp_fetch, "runs"))["runs"][0]["trace"]
    assert trace["end"] == "finished" and trace["eta_s"] is None and trace["cost"] == 4.5
    assert trace["loss"][-1] == [401, 0.5]


async def test_a_rewritten_events_file_is_read_again_from_the_start(jp_fetch, jp_root_dir):
    run = _run(jp_root_dir, "restarted")
    for step in range(1, 6):
        run.append_event(_step(step, 2.0))
    assert (await _get(jp_fetch, "runs"))["runs"][0]["trace"]["step"] == 5
    run.events_path.unlink()
    run.append_event(_step(1, 9.0))
    trace = (await _get(jp_fetch, "runs"))["runs"][0]["trace"]
    assert trace["step"] == 1 and trace["loss"] == [[1, 9.0]]


async def test_events_come_in_bounded_pages(jp_fetch, jp_root_dir):
    run = _run(jp_root_dir, "paged")
    for step in range(1, 801):
        run.append_event(_step(step, 2.0))
    size = run.events_path.stat().st_size
    assert size > 2 * 64 * 1024
    seen, offset, pages = [], 0, []
    while True:
        page = await _get(jp_fetch, "runs", run.run_id, "events", since=offset)
        seen += page["events"]
        pages.append(page["next"] - offset)
        offset = page["next"]
        if not page["more"]:
            break
    assert [e["step"] for e in seen] == list(range(1, 801))
    assert offset == size and max(pages) <= 64 * 1024 and len(pages) >= 3


def _settle(run: RunDir) -> None:
    """Date every file of the run 10 s back, as a run that ended a while ago (its summary may then be kept)."""
    import os
    import time

    past = time.time_ns() - 10_000_000_000
    for path in [run.path, *run.path.rglob("*")]:
        os.utime(path, ns=(past, past), follow_symlinks=False)


async def test_an_ended_runs_kept_summary_follows_every_change(jp_fetch, jp_root_dir):
    from ft_jupyter.export.folder import set_export_status

    run = _run(jp_root_dir, "ended", state="finished")
    run.append_event(_step(1, 2.0))
    _settle(run)
    first = (await _get(jp_fetch, "runs"))["runs"][0]
    assert first["artifact"] is None and first["export"] is None and first["trace"]["step"] == 1
    assert (await _get(jp_fetch, "runs"))["runs"][0] == first  # unchanged: answered from what was kept
    (run.path / "adapter").mkdir()
    assert (await _get(jp_fetch, "runs"))["runs"][0]["artifact"] == "adapter"
    _settle(run)
    set_export_status(run.path, "failed", "out of disk")
    assert (await _get(jp_fetch, "runs"))["runs"][0]["export"]["state"] == "failed"
    _settle(run)
    assert (await _get(jp_fetch, "runs"))["runs"][0]["export"]["state"] == "failed"  # kept from here on
    set_export_status(run.path, "finished", "done")  # only export/ changes, not the run folder
    assert (await _get(jp_fetch, "runs"))["runs"][0]["export"]["state"] == "finished"
    _settle(run)
    await _get(jp_fetch, "runs")
    run.append_event(_step(2, 1.5))
    assert (await _get(jp_fetch, "runs"))["runs"][0]["trace"]["step"] == 2
    _settle(run)
    await _get(jp_fetch, "runs")
    run.set_status("failed", "crashed later")
    assert (await _get(jp_fetch, "runs"))["runs"][0]["state"] == "failed"


async def test_a_nan_in_a_status_is_sent_as_null(jp_fetch, jp_root_dir):
    run = _run(jp_root_dir, "nan", state="finished")
    run.set_status("finished", "done", eta_s=float("nan"))
    body = await _get(jp_fetch, "runs", run.run_id)
    assert body["status"]["eta_s"] is None
