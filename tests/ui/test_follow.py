"""Re-opening run folders: events written by an older version, a live run's new lines, a run whose process died."""

import json
import socket

from ft_jupyter.config import RunConfig
from ft_jupyter.train.events import Finished, RunStarted, Step
from ft_jupyter.train.store import RunStore
from ft_jupyter.ui.dashboard import LOSS
from ft_jupyter.ui.training import open_run


def started():
    return RunStarted(
        run_id="r",
        config={},
        device="cpu",
        precision="fp32",
        precision_reason="",
        params_total=10,
        params_trainable=1,
        train_rows=4,
        eval_rows=0,
        max_steps=3,
    )


def step(i):
    return Step(
        step=i,
        max_steps=3,
        epoch=0.0,
        loss=3.0 - i,
        learning_rate=1e-3,
        grad_norm=1.0,
        tokens_seen=i,
        tokens_per_second=1.0,
        memory_mb=None,
        elapsed_s=float(i),
        eta_s=1.0,
    )


def test_old_events_without_newer_fields_still_draw(tmp_path):
    run = RunStore(tmp_path).create(RunConfig())
    old_step = step(1).to_json()
    del old_step["cost_so_far"]  # written before costs were reported
    run.append_event(started().to_json())
    run.append_event(old_step)
    run.set_status("finished", "done")
    board = open_run(run.path, display="widgets")
    assert list(board.fig.data[LOSS].y) == [2.0]
    assert board.follower._thread is None  # an ended run is read once, not followed


def test_a_live_run_keeps_updating_and_stop_writes_the_stop_file(tmp_path, wait_for):
    run = RunStore(tmp_path).create(RunConfig())
    run.set_status("running", "training")  # this process's pid: alive
    run.append_event(started().to_json())
    board = open_run(run.path, display="widgets")
    board.follower.poll_s = 0.05
    run.append_event(step(1).to_json())
    wait_for(lambda: len(board.curves.loss) == 1, timeout=20, what="the first step drawn")
    board.stop_button.click()
    assert run.stop_requested() and "stop requested" in run.stop_path.read_text()
    run.append_event(Finished(step=1, train_loss=2.0, elapsed_s=1.0, artifact_path=str(run.path / "adapter")).to_json())
    wait_for(lambda: "data-state='finished'" in board.status.value, timeout=20, what="the status to say finished")
    board.follower._thread.join(timeout=5)
    assert not board.follower._thread.is_alive()


def test_a_run_whose_process_died_shows_as_ended(tmp_path):
    run = RunStore(tmp_path).create(RunConfig())
    run.append_event(started().to_json())
    status = json.loads((run.path / "status.json").read_text())
    status.update(state="running", pid=2**22 + 12345, host=socket.gethostname())  # no such process
    (run.path / "status.json").write_text(json.dumps(status))
    board = open_run(run.path, display="widgets")
    assert "data-state='stopped'" in board.status.value and "ended without reporting" in board.status.value
    assert board.stop_button.disabled
