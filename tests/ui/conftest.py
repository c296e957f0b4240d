import pytest

from ft_jupyter.config import DataConfig, MethodConfig, ModelConfig, RunConfig, TrainingConfig


@pytest.fixture(scope="module")
def ui_runs_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("ui-runs")


@pytest.fixture(scope="module")
def tiny_run_config():
    """Factory: tiny_run_config(runs_dir, **training overrides) -> RunConfig."""
    return make_tiny_run_config


def make_tiny_run_config(runs_dir, **training) -> RunConfig:
    """tiny-random LoRA on a few emails: seconds per run on a CPU."""
    settings = dict(
        max_steps=12,
        batch_size=8,
        learning_rate=5e-3,
        max_seq_len=96,
        warmup_ratio=0.2,
        scheduler="cosine",
        eval_steps=6,
        seed=3,
    )
    settings.update(training)
    return RunConfig(
        name="ui-tiny",
        runs_dir=str(runs_dir),
        model=ModelConfig(name="tiny-random"),
        method=MethodConfig(method="lora", r=8, alpha=16, dropout=0.0),
        data=DataConfig(dataset="support-emails", max_rows=120),
        training=TrainingConfig(**settings),
    )
