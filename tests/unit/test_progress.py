"""The one progress mechanism: a bar on stderr with elapsed time and ETA, never a byte on stdout, and a switch that
silences it; training's console lines share its duration format and switch."""

import threading

import pytest

from ft_jupyter.progress import ENV_VAR, fmt_duration, progress_bar, tracked


@pytest.fixture(autouse=True)
def _progress_on(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delenv("FT_JUPYTER_UI", raising=False)


@pytest.fixture()
def clock(monkeypatch):
    """tqdm's clock, moved by hand: two seconds per row makes the ETA predictable."""
    now = [1000.0]
    monkeypatch.setattr("tqdm.std.time", lambda: now[0])
    return now


def test_the_bar_counts_to_its_total_with_an_eta_on_stderr_only(capsys, clock):
    with progress_bar(10, "Comparing: fine-tuned", unit="rows") as bar:
        for _ in range(3):
            clock[0] += 2.0
            bar.update(1)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Comparing: fine-tuned" in captured.err
    # 3 of 10 rows after 6 s at 2 s a row: 7 rows, 14 s to go, in the format training uses ("ETA 0:14").
    assert "3/10 rows [elapsed 0:06, ETA 0:14, 2.0 s each]" in captured.err


def test_a_finished_bar_shows_the_total_and_no_time_left(capsys, clock):
    with progress_bar(4, "Token lengths", unit="rows") as bar:
        for _row in tracked(["a", "b", "c", "d"], bar):
            clock[0] += 0.5
    err = capsys.readouterr().err
    assert "4/4 rows" in err and "ETA 0:00" in err and "2.00 rows/s" in err


@pytest.mark.parametrize("how", ["argument", "environment", "small work", "background thread"])
def test_a_switched_off_bar_prints_nothing(capsys, monkeypatch, how):
    kwargs = {"progress": False} if how == "argument" else {"min_total": 5000} if how == "small work" else {}
    if how == "environment":
        monkeypatch.setenv(ENV_VAR, "0")

    def work():
        with progress_bar(10, "Quiet", unit="rows", **kwargs) as bar:
            bar.update(10)

    if how == "background thread":
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    else:
        work()
    assert capsys.readouterr() == ("", "")


def test_an_explicit_argument_beats_the_environment(capsys, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "0")
    with progress_bar(2, "Asked for", unit="rows", progress=True) as bar:
        bar.update(2)
    assert "Asked for" in capsys.readouterr().err


def test_durations_read_as_minutes_or_hours():
    assert fmt_duration(65) == "1:05" and fmt_duration(3723) == "1:02:03" and fmt_duration(None) == "?"


def test_training_step_lines_follow_the_same_switch(monkeypatch):
    import io

    from ft_jupyter.train.console import ConsoleProgress
    from ft_jupyter.train.events import Finished, Step

    step = Step(
        step=1,
        max_steps=10,
        epoch=0.1,
        loss=2.5,
        learning_rate=1e-3,
        grad_norm=1.0,
        tokens_seen=100,
        tokens_per_second=50.0,
        memory_mb=None,
        elapsed_s=5.0,
        eta_s=65.0,
    )
    done = Finished(step=10, train_loss=1.0, elapsed_s=50.0, artifact_path="runs/x/adapter")
    shown = io.StringIO()
    for event in (step, done):
        ConsoleProgress(shown)(event)
    assert "step    1/10" in shown.getvalue() and "ETA 1:05" in shown.getvalue()
    monkeypatch.setenv(ENV_VAR, "0")
    quiet = io.StringIO()
    console = ConsoleProgress(quiet)
    for event in (step, done):
        console(event)
    lines = quiet.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Finished at step 10 after 0:50")
