"""Smoothing, downsampling and redraw throttling: the arithmetic behind the live charts."""

import numpy as np
import pytest

from ft_jupyter.ui.series import RunCurves, RunningEma, downsample, ema
from ft_jupyter.ui.throttle import Throttle


def test_ema_is_bias_corrected_and_skips_gaps():
    values = np.array([2.0, np.nan, 2.0, 2.0])
    assert np.allclose(ema(values, 0.9)[[0, 2, 3]], 2.0)  # a constant stays constant from the first point
    assert np.isnan(ema(values, 0.9)[1])
    assert np.allclose(ema(np.array([1.0, 3.0]), 0.0), [1.0, 3.0])
    with pytest.raises(ValueError):
        ema(values, 1.0)


def test_running_ema_matches_the_batch_version_as_points_arrive():
    rng = np.random.default_rng(0)
    values = list(rng.normal(3, 1, 200))
    running = RunningEma(0.8)
    running.follow(values[:50])
    assert np.allclose(running.follow(values), ema(np.array(values), 0.8))


def test_downsample_caps_points_and_keeps_ends_and_spikes():
    x = np.arange(10_000, dtype=float)
    y = np.ones_like(x)
    y[4321] = 50.0  # a loss spike must survive
    xs, ys = downsample(x, y, 500)
    assert len(xs) <= 500
    assert xs[0] == 0 and xs[-1] == 9_999
    assert ys.max() == 50.0
    short = downsample(x[:10], y[:10], 500)
    assert len(short[0]) == 10


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_throttle_draws_the_first_updates_then_caps_the_rate():
    clock = FakeClock()
    throttle = Throttle(min_interval_s=0.2, always_first=5, clock=clock)
    drawn = []
    for i in range(1000):  # 1000 updates over 10 s of (fake) time
        clock.now = i * 0.01
        drawn.append(throttle.ready())
    assert all(drawn[:5])
    assert sum(drawn) <= 5 + 10 / 0.2 + 1
    assert sum(drawn) >= 10 / 0.2 - 1  # and it does keep drawing
    assert throttle.pending or drawn[-1]


def test_run_curves_follow_events():
    curves = RunCurves()
    assert curves.state == "starting"
    curves.apply(
        {
            "type": "step",
            "step": 1,
            "max_steps": 2,
            "loss": None,
            "learning_rate": 1e-3,
            "grad_norm": 1.0,
            "tokens_per_second": None,
        }
    )
    curves.apply({"type": "evaluation", "step": 1, "eval_loss": 2.5, "metrics": {}})
    curves.apply({"type": "finished", "step": 2})
    assert curves.state == "finished"
    assert np.isnan(curves.loss.y[0]) and curves.eval_loss.y == [2.5]


def test_slow_redraws_widen_the_gap_to_stay_within_the_budget():
    clock = FakeClock()
    throttle = Throttle(min_interval_s=0.2, always_first=0, budget=0.01, clock=clock)
    throttle.cost(0.005)  # 5 ms per redraw: at most one every 0.5 s keeps drawing at 1% of the time
    drawn = 0
    for i in range(1000):
        clock.now = i * 0.01
        drawn += throttle.ready()
    assert 18 <= drawn <= 21
    throttle.cost(0.0001)
    assert throttle.gap_s == 0.2
