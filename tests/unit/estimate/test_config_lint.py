import pytest

from ft_jupyter.config import DataConfig, MethodConfig, ModelConfig, RunConfig, TrainingConfig, preset
from ft_jupyter.config.lint import lint

REAL = ModelConfig(name="smollm2-135m-instruct")


def _fields(config, **known):
    return [w.field for w in lint(config, **known)]


def test_sensible_presets_are_clean():
    assert lint(preset("qlora-t4"), device="cuda") == []
    assert lint(preset("cpu-quickstart"), device="cpu") == []


@pytest.mark.parametrize(
    "method, lr, warned",
    [
        ("lora", 2e-4, False),
        ("lora", 8e-4, False),
        ("lora", 3e-3, True),
        ("lora", 1e-5, True),
        ("full", 2e-5, False),
        ("full", 2e-4, True),
        ("freeze", 5e-5, False),
        ("freeze", 5e-4, True),
    ],
)
def test_learning_rate_is_judged_by_method(method, lr, warned):
    config = RunConfig(model=REAL, method=MethodConfig(method=method), training=TrainingConfig(learning_rate=lr))
    assert ("training.learning_rate" in _fields(config)) == warned


def test_the_random_test_model_is_exempt_from_rate_rules():
    config = RunConfig(model=ModelConfig(name="tiny-random"), training=TrainingConfig(learning_rate=5e-3))
    assert "training.learning_rate" not in _fields(config)


def test_unusual_alpha_over_r_and_huge_ranks():
    assert "method.alpha" in _fields(RunConfig(model=REAL, method=MethodConfig(r=64, alpha=8)))
    assert "method.alpha" in _fields(RunConfig(model=REAL, method=MethodConfig(r=8, alpha=64)))
    assert "method.alpha" not in _fields(RunConfig(model=REAL, method=MethodConfig(r=8, alpha=16)))
    assert "method.r" in _fields(RunConfig(model=REAL, method=MethodConfig(r=256, alpha=512)))
    # rsLoRA scales by alpha/sqrt(r): a large rank with it is the intended use.
    assert _fields(RunConfig(model=REAL, method=MethodConfig(r=256, alpha=32, use_rslora=True))) == []


def test_missing_splits_and_oversized_sequence_length():
    config = RunConfig(
        model=REAL,
        data=DataConfig(validation_fraction=0.0, test_fraction=0.0),
        training=TrainingConfig(max_seq_len=2048),
    )
    fields = _fields(config, longest_row_tokens=230)
    assert {"data.validation_fraction", "data.test_fraction", "training.max_seq_len"} <= set(fields)
    warning = next(w for w in lint(config, longest_row_tokens=230) if w.field == "training.max_seq_len")
    assert "256" in warning.fix  # the longest row rounded up to a multiple of 32
    assert "training.max_seq_len" not in _fields(config, longest_row_tokens=1500)
    assert "training.max_seq_len" not in _fields(config)  # without data facts the rule stays quiet


def test_device_rules_need_the_device():
    config = RunConfig(model=REAL, training=TrainingConfig(precision="fp16"))
    assert "training.precision" in _fields(config, device="cpu")
    assert "training.precision" not in _fields(config, device="cuda")


def test_budget_rules():
    config = RunConfig(
        model=REAL,
        method=MethodConfig(method="full"),
        training=TrainingConfig(
            learning_rate=2e-5, epochs=8, save_steps=10, save_total_limit=5, assistant_only_loss=False
        ),
    )
    assert {"method.method", "training.epochs", "training.save_total_limit", "training.assistant_only_loss"} <= set(
        _fields(config)
    )


def test_warnings_read_as_field_problem_and_fix():
    (warning,) = lint(RunConfig(model=REAL, data=DataConfig(validation_fraction=0.0)))
    assert str(warning).startswith("data.validation_fraction: is 0") and "0.1" in str(warning)
