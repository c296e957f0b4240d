"""Health checks on synthetic training logs: each problem raises its warning once, and healthy runs raise none."""

import math

import pytest
from transformers import TrainerControl, TrainerState

from ft_jupyter.config import MethodConfig, RunConfig, TrainingConfig
from ft_jupyter.train.health import HealthMonitor


def _monitor(**training):
    events = []
    config = RunConfig(
        method=MethodConfig(method="lora"),
        training=TrainingConfig(**{"learning_rate": 2e-4, "warmup_ratio": 0.0, **training}),
    )
    return HealthMonitor(config, events.append), events


def _feed(monitor, logs_by_step, max_steps=100, control=None):
    control = control or TrainerControl()
    for step, logs in logs_by_step:
        monitor.on_log(None, TrainerState(global_step=step, max_steps=max_steps), control, logs=logs)
    return control


def _codes(events):
    return [e.code for e in events if e.type == "warning"]


def test_a_healthy_falling_loss_raises_nothing():
    monitor, events = _monitor()
    _feed(monitor, [(s, {"loss": 3.0 * 0.97**s, "grad_norm": 1.0 + 0.1 * (s % 3)}) for s in range(1, 60)])
    assert _codes(events) == []


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_non_finite_loss_warns_once_with_advice(bad):
    monitor, events = _monitor()
    _feed(monitor, [(1, {"loss": 2.0}), (2, {"loss": bad}), (3, {"loss": bad})])
    assert _codes(events) == ["loss_not_finite"]
    assert "learning_rate" in events[0].advice


def test_an_exactly_zero_loss_means_no_label_survived():
    monitor, events = _monitor()
    _feed(monitor, [(1, {"loss": 0.0})])
    assert _codes(events) == ["loss_zero"] and "max_seq_len" in events[0].advice


def test_a_flat_loss_is_reported_after_enough_steps():
    monitor, events = _monitor()
    _feed(monitor, [(s, {"loss": 2.0 + 0.001 * (s % 2)}) for s in range(1, 19)], max_steps=40)
    assert _codes(events) == []  # too early to judge
    _feed(monitor, [(s, {"loss": 2.0}) for s in range(19, 25)], max_steps=40)
    assert _codes(events) == ["loss_flat"]


def test_a_rising_loss_after_warmup_means_divergence():
    monitor, events = _monitor()
    _feed(monitor, [(s, {"loss": 1.0 + 0.2 * s}) for s in range(1, 13)])
    assert "loss_rising" in _codes(events)


# Training losses logged by real 24-step SmolLM2 runs on the support emails (batch 8, warmup 3 steps, loss on the
# answer only): a few label tokens per row make one batch score several times another. Each run reached 55-80 %.
HEALTHY_NOISY = {
    "lora": [
        3.001,
        2.934,
        1.084,
        0.387,
        1.23,
        1.491,
        0.541,
        0.534,
        1.934,
        2.02,
        1.0,
        0.962,
        0.966,
        0.652,
        0.872,
        0.385,
        0.881,
        0.177,
        0.143,
        1.334,
        1.26,
        1.276,
        0.915,
        0.701,
    ],
    "full": [
        3.001,
        2.934,
        0.989,
        0.378,
        1.186,
        1.187,
        0.383,
        0.302,
        1.77,
        1.514,
        0.784,
        0.582,
        0.851,
        0.552,
        0.502,
        0.169,
        0.762,
        0.049,
        0.18,
        0.454,
        1.061,
        0.87,
        0.275,
        0.218,
    ],
}


@pytest.mark.parametrize("method", sorted(HEALTHY_NOISY))
def test_noisy_answer_only_losses_of_a_healthy_run_are_not_divergence(method):
    monitor, events = _monitor(warmup_ratio=0.1)
    losses = HEALTHY_NOISY[method]
    _feed(monitor, [(s, {"loss": v}) for s, v in enumerate(losses, start=1)], max_steps=len(losses))
    assert "loss_rising" not in _codes(events)


def test_a_blow_up_right_after_warmup_is_divergence():
    # A rate ten times too high: the loss falls during warmup, then explodes within the first window after it.
    monitor, events = _monitor(warmup_ratio=0.1)
    losses = [3.2, 2.9, 1.8, 14.0, 19.0, 21.0, 19.5, 20.0, 18.7, 19.4, 20.2, 19.9, 19.1, 20.5]
    _feed(monitor, [(s, {"loss": v}) for s, v in enumerate(losses, start=1)], max_steps=20)
    assert "loss_rising" in _codes(events)


def test_a_gradient_norm_spike_is_an_explosion():
    monitor, events = _monitor()
    steady = [(s, {"loss": 2.0, "grad_norm": 1.0}) for s in range(1, 8)]
    _feed(monitor, steady + [(8, {"loss": 2.0, "grad_norm": 50.0})])
    assert _codes(events) == ["grad_explosion"] and "50" in events[0].message


def test_overfitting_is_eval_rising_while_training_falls_and_early_stopping_acts_on_patience():
    monitor, events = _monitor(eval_steps=5, early_stopping_patience=2)
    evals = {5: 2.0, 10: 2.1, 15: 2.2}
    control = TrainerControl()
    for step in range(1, 16):
        _feed(monitor, [(step, {"loss": 3.0 - 0.1 * step})], control=control)
        if step in evals:
            _feed(monitor, [(step, {"eval_loss": evals[step]})], control=control)
        if step == 10:
            assert not control.should_training_stop  # one evaluation without improvement: patience 2 not reached
    assert _codes(events) == ["overfitting"]
    assert control.should_training_stop and "early stopping" in monitor.early_stop_reason
    assert [e.code for e in events if e.type == "note"] == ["early_stopping"]


def test_a_learning_rate_far_above_the_methods_recipe_is_flagged_at_the_start():
    events = []
    config = RunConfig(method=MethodConfig(method="full"), training=TrainingConfig(learning_rate=1e-3))
    HealthMonitor(config, events.append).on_train_begin(None, TrainerState(), TrainerControl())
    assert _codes(events) == ["lr_too_high"] and "full" in events[0].message
