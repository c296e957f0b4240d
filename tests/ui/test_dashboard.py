"""The dashboard fed synthetic events: figure data, progress, status, warnings, stop, throttling, downsampling."""

import itertools
import math

import numpy as np
import pytest

from ft_jupyter.train.events import Evaluation, Finished, RunStarted, Step, Stopped, Warning
from ft_jupyter.ui.dashboard import EVAL, LOSS, LOSS_SMOOTH, LR, Dashboard, progress_fraction
from ft_jupyter.ui.throttle import Throttle


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def every_event():
    """A throttle that lets every update draw: each call sees a clock one second later."""
    return Throttle(0.0, 0, budget=1.0, clock=itertools.count().__next__)


def started(max_steps=100, price=0.0):
    return RunStarted(
        run_id="r1",
        config={},
        device="cpu",
        precision="fp32",
        precision_reason="cpu",
        params_total=1_000_000,
        params_trainable=20_000,
        train_rows=200,
        eval_rows=20,
        max_steps=max_steps,
        price_per_hour=price,
    )


def step(i, max_steps=100, loss=None):
    return Step(
        step=i,
        max_steps=max_steps,
        epoch=i / max_steps,
        loss=5.0 / i if loss is None else loss,
        learning_rate=1e-3 * i / max_steps,
        grad_norm=1.0 + i % 3,
        tokens_seen=100 * i,
        tokens_per_second=500.0,
        memory_mb=100.0,
        elapsed_s=0.5 * i,
        eta_s=0.5 * (max_steps - i),
        cost_so_far=0.001 * i,
    )


def test_figure_and_progress_follow_the_events():
    board = Dashboard(throttle=every_event())  # draw every event
    board(started())
    assert "running" in board.status.value and "20,000 of 1,000,000" in board.status.value
    for i in range(1, 11):
        board(step(i))
    board(Evaluation(step=10, eval_loss=0.9))
    assert list(board.fig.data[LOSS].x) == list(range(1, 11))
    assert np.allclose(board.fig.data[LOSS].y, [5.0 / i for i in range(1, 11)])
    assert list(board.fig.data[EVAL].y) == [0.9]
    assert board.fig.data[LR].y[-1] == pytest.approx(1e-4)
    assert progress_fraction(board.curves) == 0.1 and "width:10.0%" in board.progress.value
    assert "step 10/100" in board.progress.value and "ETA 0:45" in board.progress.value
    assert "cost" not in board.progress.value  # no price per hour given
    board(Finished(step=10, train_loss=0.5, elapsed_s=5.0, artifact_path="/runs/r1/adapter"))
    assert "finished" in board.status.value and "/runs/r1/adapter" in board.status.value
    assert board.stop_button.disabled


def test_cost_is_shown_when_a_price_is_set():
    board = Dashboard()
    board(started(price=0.35))
    board(step(4))
    assert "cost $0.0040" in board.progress.value


def test_nan_loss_is_drawn_as_a_gap_not_an_error():
    board = Dashboard(throttle=every_event())
    board(started())
    board(step(1, loss=2.0))
    board(step(2, loss=float("nan")))
    assert math.isnan(board.fig.data[LOSS].y[1])


def test_warnings_are_shown_prominently():
    board = Dashboard()
    board(started())
    board(Warning(step=3, code="loss_spike", message="Loss jumped 4x in one step.", advice="Lower the <rate>."))
    assert "loss_spike" in board.warnings.value and "Lower the &lt;rate&gt;." in board.warnings.value


def test_stop_button_asks_once_and_the_status_follows():
    calls = []
    board = Dashboard(on_stop=lambda: calls.append(1))
    board(started())
    board(step(1))
    board.stop_button.click()
    board.stop_button.click()
    assert calls == [1]
    assert "stopping" in board.status.value
    board(Stopped(step=2, reason="stop requested", elapsed_s=1.0, artifact_path="/runs/r1/adapter"))
    assert "data-state='stopped'" in board.status.value


def test_throttling_caps_redraws_but_draws_first_steps_and_the_end():
    clock = FakeClock()
    board = Dashboard(throttle=Throttle(min_interval_s=0.2, always_first=5, clock=clock))
    board(started(max_steps=2000))
    for i in range(1, 2001):  # 2000 steps in 10 s: 200 per second
        clock.now = i * 0.005
        board(step(i, max_steps=2000))
        if i == 5:
            assert len(board.fig.data[LOSS].x) == 5  # every one of the first steps was drawn
    steps_drawn = board.redraws
    assert steps_drawn <= 1 + 5 + 10 / 0.2 + 1
    board(Finished(step=2000, train_loss=0.1, elapsed_s=10.0, artifact_path="a"))
    assert board.redraws == steps_drawn + 1
    assert board.fig.data[LOSS].x[-1] == 2000  # the end is drawn even if the last steps were skipped


def test_long_series_are_downsampled_before_drawing():
    board = Dashboard(max_points=300)
    board.replay([started(max_steps=20_000).to_json()] + [step(i, 20_000).to_json() for i in range(1, 20_001)])
    assert len(board.curves.loss) == 20_000
    assert len(board.fig.data[LOSS].x) <= 300 and len(board.fig.data[LOSS_SMOOTH].x) <= 300
    assert board.fig.data[LOSS].x[-1] == 20_000


def test_scale_and_smoothing_controls_change_the_chart():
    board = Dashboard(throttle=every_event())
    board(started())
    for i, loss in enumerate([4.0, 1.0, 4.0, 1.0], start=1):
        board(step(i, loss=loss))
    board.scale.value = "log"
    assert board.fig.layout.yaxis.type == "log"
    board.smoothing.value = 0.0
    assert np.allclose(board.fig.data[LOSS_SMOOTH].y, [4.0, 1.0, 4.0, 1.0])
    board.smoothing.value = 0.9
    assert np.ptp(board.fig.data[LOSS_SMOOTH].y[1:]) < 3.0  # smoothed: the zig-zag shrinks


def test_replayed_events_draw_the_same_as_live_ones():
    events = [
        started(),
        *(step(i) for i in range(1, 30)),
        Evaluation(step=29, eval_loss=0.3),
        Finished(step=29, train_loss=0.2, elapsed_s=3.0, artifact_path="x"),
    ]
    live = Dashboard()
    for e in events:
        live(e)
    replayed = Dashboard()
    replayed.replay([e.to_json() for e in events])
    for a, b in zip(live.fig.data, replayed.fig.data, strict=True):
        assert np.array_equal(np.asarray(a.y, dtype=float), np.asarray(b.y, dtype=float), equal_nan=True)
    assert live.status.value == replayed.status.value


def test_a_failed_run_shows_the_error_and_the_advice():
    from ft_jupyter.train.events import Failed

    board = Dashboard(on_stop=lambda: None)
    board(started())
    board(Failed(step=3, error="OutOfMemoryError: CUDA out of memory", advice="Try batch_size 4 with grad_accum 2."))
    assert "data-state='failed'" in board.status.value
    assert "out of memory" in board.status.value and "grad_accum 2" in board.status.value
    assert board.stop_button.disabled and "background:#c62828" in board.progress.value
