"""The probe forecast against the real thing: forecast 40 steps of tiny-random from a 3-step probe, then train them.

"Actual" is the run's train_runtime_s: trainer.train() from start to end, evaluation included, model loading and
saving left out, exactly what the probe times (its rate from the steps after the first, its start-up as measured).

Spread measured on the shared 2-core CPU machine while other trainings and a C++ build ran (load average 2-4.7),
actual ÷ forecast, seven sets of three: 0.92 1.05 1.24 | 1.16 0.85 0.74 | 1.12 1.01 1.03 | 0.77 0.98 1.08 |
1.64 0.97 0.98 | 1.16 1.11 1.15 | 1.16 1.21 1.48; medians 0.85 to 1.21 (two pairs with the machine quieter, load
1.9: 1.02 and 0.93). One pair swings with whatever else runs during the probe's half second; the median of five far
less, so the median is held to the issue's ±30 % and every pair to a band only a broken forecast leaves. Tokens are
counted, not timed: they must match within 1 % (measured: 0.14 %, the partial last epoch taken at the mean row).
"""

import statistics

import pytest

from ft_jupyter.config import DataConfig, MethodConfig, ModelConfig, RunConfig, TrainingConfig

pytestmark = pytest.mark.integration

REPETITIONS = 5


def _config(runs_dir) -> RunConfig:
    return RunConfig(
        name="forecast",
        runs_dir=str(runs_dir),
        model=ModelConfig(name="tiny-random"),
        method=MethodConfig(method="lora", r=8, alpha=16, dropout=0.0),
        data=DataConfig(dataset="support-emails", max_rows=120),
        training=TrainingConfig(max_steps=40, batch_size=8, max_seq_len=96, learning_rate=5e-3, seed=7),
    )


@pytest.fixture(scope="module")
def checks(tmp_path_factory):
    from ft_jupyter.evaluate.forecast import forecast_run, forecast_vs_actual
    from ft_jupyter.train import run_training

    out = []
    for _ in range(REPETITIONS):
        config = _config(tmp_path_factory.mktemp("runs"))
        before = forecast_run(config, probe=True)  # right before the run, so both see the same machine
        result = run_training(config)
        out.append(forecast_vs_actual(result.run_dir.path, forecast=before))
    for check in out:
        print(
            f"forecast {check.forecast.wall_s:.2f} s, actual {check.actual_s:.2f} s, × {check.time_ratio:.3f}; "
            f"tokens × {check.token_ratio:.4f}"
        )
    return out


def test_the_probe_forecasts_the_training_time_within_30_percent(checks):
    ratios = [c.time_ratio for c in checks]
    assert 0.7 <= statistics.median(ratios) <= 1.3, ratios
    assert all(0.4 <= r <= 2.5 for r in ratios), ratios


def test_the_forecast_counts_the_tokens_the_trainer_sees(checks):
    for check in checks:
        assert check.steps == 40 and check.forecast.plan.steps == 40
        assert abs(check.token_ratio - 1) < 0.01, check.to_text()
        # A fair comparison: the forecast's parts are all inside train_runtime_s, and start-up was measured.
        assert check.forecast.source == "probe" and check.forecast.throughput.overhead_s > 0
        assert check.forecast.plan.evaluations == 1 and check.forecast.eval_s > 0
