"""A config that produces NaN really raises the warning, while the run still ends with a status that says so."""

import pytest

pytestmark = pytest.mark.integration


def test_full_fine_tuning_in_float16_weights_goes_nan_and_is_reported(tiny, events_of):
    from ft_jupyter.train import run_training

    # fp16 weights with AdamW and no loss scaling: updates overflow within a few steps (a classic mistake).
    config = tiny(**{"method.method": "full", "model.dtype": "float16", "training.learning_rate": 1e-3,
                     "training.max_steps": 5})
    result = run_training(config)
    warnings = {e["code"]: e for e in events_of(result.run_dir) if e["type"] == "warning"}
    assert "loss_not_finite" in warnings and "learning_rate" in warnings["loss_not_finite"]["advice"]
    assert result.run_dir.status()["state"] == "finished" and "loss_not_finite" in result.warnings
