"""`ft-jupyter runs list|show|stop` and `resume` on run folders, without training."""

from ft_jupyter.cli import main
from ft_jupyter.config import RunConfig
from ft_jupyter.train.events import Step, Warning
from ft_jupyter.train.store import RunStore


def _run(tmp_path):
    run = RunStore(tmp_path / "runs").create(RunConfig(name="cli"))
    run.set_status("running", "training 10 steps on cpu (fp32)", max_steps=10, step=4)
    run.append_event(
        Step(
            step=4,
            max_steps=10,
            epoch=0.2,
            loss=1.25,
            learning_rate=1e-4,
            grad_norm=1.0,
            tokens_seen=1234,
            tokens_per_second=50.0,
            memory_mb=10.0,
            elapsed_s=3.0,
            eta_s=5.0,
            cost_so_far=0.01,
        ).to_json()
    )
    run.append_event(Warning(step=4, code="loss_flat", message="the training loss has not moved").to_json())
    return run


def test_runs_list_shows_each_run_with_its_state(tmp_path, capsys):
    run = _run(tmp_path)
    assert main(["runs", "list", "--runs-dir", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert run.run_id in out and "running" in out and "4/10" in out


def test_runs_show_summarises_progress_warnings_and_checkpoints(tmp_path, capsys):
    run = _run(tmp_path)
    assert main(["runs", "show", run.run_id, "--runs-dir", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "step 4/10: loss 1.25" in out and "1,234 tokens" in out
    assert "warning (loss_flat)" in out and "checkpoints: none" in out


def test_runs_stop_writes_the_stop_file_and_unknown_ids_are_a_clear_error(tmp_path, capsys):
    run = _run(tmp_path)
    assert main(["runs", "stop", run.run_id, "--runs-dir", str(tmp_path / "runs")]) == 0
    assert run.stop_requested() and "command line" in run.stop_path.read_text()
    assert main(["runs", "show", "nope", "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "No run 'nope'" in capsys.readouterr().err


def test_resume_refuses_a_finished_run(tmp_path, capsys):
    run = _run(tmp_path)
    run.set_status("finished", "10 steps")
    assert main(["resume", run.run_id, "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "already finished" in capsys.readouterr().err
