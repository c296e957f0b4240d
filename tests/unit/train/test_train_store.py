"""The run folder contract: ids, status (including runs whose process died), checkpoints, incremental events."""

import json
import subprocess
import sys

import pytest

from ft_jupyter.config import ConfigError, RunConfig
from ft_jupyter.train.events import EVENT_TYPES, Finished, Note, RunStarted, Step, event_from_json
from ft_jupyter.train.store import RunDir, RunStore


@pytest.fixture()
def run(tmp_path) -> RunDir:
    return RunStore(tmp_path / "runs").create(RunConfig(name="my.run"))


def test_a_new_run_has_a_readable_id_its_config_and_a_queued_status(run):
    assert run.run_id.endswith("-my-run") and run.run_id[:8].isdigit()
    assert run.config() == RunConfig(name="my.run") and run.status()["state"] == "queued"


def test_a_launcher_can_fix_the_run_id_once(tmp_path):
    store = RunStore(tmp_path)
    assert store.create(RunConfig(), run_id="shared-id").run_id == "shared-id"
    with pytest.raises(ConfigError, match="already exists"):
        store.create(RunConfig(), run_id="shared-id")
    with pytest.raises(ConfigError, match="letters, digits"):
        store.create(RunConfig(), run_id="../escape")


def test_a_running_run_whose_process_is_gone_reads_as_stopped_with_how_to_resume(run):
    run.set_status("running", "training")
    assert run.status()["state"] == "running"  # this process is alive
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    data = json.loads((run.path / "status.json").read_text())
    (run.path / "status.json").write_text(json.dumps({**data, "pid": dead.pid}))
    (run.checkpoints_dir / "checkpoint-4").mkdir(parents=True)
    (run.checkpoints_dir / "checkpoint-4" / "trainer_state.json").write_text("{}")
    status = run.status()
    assert status["state"] == "stopped" and status["stale"] is True
    assert f"ft-jupyter resume {run.run_id}" in status["message"] and "checkpoint-4" in status["message"]


def test_checkpoints_are_ordered_by_step_and_incomplete_ones_are_ignored(run):
    for step in (9, 10, 2):
        (run.checkpoints_dir / f"checkpoint-{step}").mkdir(parents=True)
        (run.checkpoints_dir / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    (run.checkpoints_dir / "checkpoint-11").mkdir()  # being written: no trainer_state.json yet
    assert [p.name for p in run.checkpoints()] == ["checkpoint-2", "checkpoint-9", "checkpoint-10"]
    assert run.last_checkpoint().name == "checkpoint-10"


def test_events_are_read_incrementally_and_a_half_written_line_waits(run):
    run.append_event(Note(step=1, code="a", message="first").to_json())
    events, offset = run.read_events(0)
    assert [e["message"] for e in events] == ["first"]
    with open(run.events_path, "a") as fh:
        fh.write('{"type": "note", "step": 2, "code": "b", "mess')  # a writer mid-line
    assert run.read_events(offset) == ([], offset)
    with open(run.events_path, "a") as fh:
        fh.write('age": "second", "time": 0}\n')
    events, _ = run.read_events(offset)
    assert [e["message"] for e in events] == ["second"]


def test_a_line_cut_by_a_crash_is_skipped_by_the_intact_reader_whole_and_from_an_offset(run):
    run.append_event(Note(step=1, code="a", message="first").to_json())
    _, after_first = run.read_events(0)
    with open(run.events_path, "a") as fh:
        fh.write('{"type": "note", "step": 2, "co')  # the process died here; the resumed run appends after it
    run.append_event(Note(step=3, code="c", message="third").to_json())
    run.append_event(Note(step=4, code="d", message="fourth").to_json())
    with pytest.raises(ValueError):
        run.read_events(0)  # the strict reader, for replaying a run, refuses the damaged file
    events, end = run.read_intact_events(0)
    assert [e["message"] for e in events] == ["first", "fourth"]
    assert end == run.events_path.stat().st_size
    events, end_again = run.read_intact_events(after_first)
    assert [e["message"] for e in events] == ["fourth"] and end_again == end
    with open(run.events_path, "a") as fh:
        fh.write('{"type": "note", "step": 5, "code": "e", "mess')  # a line still being written waits
    assert run.read_intact_events(end) == ([], end)
    assert [e["message"] for e in run.read_intact_events(0)[0]] == ["first", "fourth"]
    assert RunDir(run.path / "no-such-run").read_intact_events(7) == ([], 7)


def test_stop_requests_go_through_a_file_that_resume_clears(run):
    assert not run.stop_requested()
    run.request_stop("enough")
    assert run.stop_requested() and run.stop_path.read_text() == "enough"
    run.clear_stop()
    assert not run.stop_requested()


def test_every_event_round_trips_and_old_or_newer_lines_still_load():
    step = Step(
        step=3,
        max_steps=10,
        epoch=0.1,
        loss=float("nan"),
        learning_rate=1e-4,
        grad_norm=None,
        tokens_seen=9,
        tokens_per_second=None,
        memory_mb=None,
        elapsed_s=1.0,
        eta_s=None,
        cost_so_far=0.5,
    )
    back = event_from_json(json.loads(json.dumps(step.to_json())))
    assert back.type == "step" and back.cost_so_far == 0.5
    old = {"type": "finished", "step": 3, "train_loss": 1.0, "elapsed_s": 2.0, "artifact_path": "a", "time": 0}
    assert event_from_json(old) == Finished(step=3, train_loss=1.0, elapsed_s=2.0, artifact_path="a", time=0)
    newer = {**old, "a_field_from_the_future": 1}
    assert event_from_json(newer).cost == 0.0
    assert set(EVENT_TYPES) == {
        "run_started",
        "step",
        "evaluation",
        "checkpoint",
        "warning",
        "note",
        "finished",
        "stopped",
        "failed",
    }
    assert "resumed_from_step" in RunStarted.__dataclass_fields__
