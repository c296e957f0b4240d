import json

import pytest

from ft_jupyter.config import DataConfig, MethodConfig, ModelConfig, RunConfig, TrainingConfig


def _tiny_run_config(runs_dir, overrides) -> RunConfig:
    base = RunConfig(
        name="tiny",
        runs_dir=str(runs_dir),
        model=ModelConfig(name="tiny-random"),
        method=MethodConfig(method="lora", r=8, alpha=16, dropout=0.0),
        data=DataConfig(dataset="support-emails", max_rows=64, validation_fraction=0.15, test_fraction=0.1),
        training=TrainingConfig(
            max_steps=8, batch_size=8, learning_rate=5e-3, max_seq_len=128, warmup_ratio=0.0, seed=7
        ),
    )
    return base.with_overrides(overrides) if overrides else base


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """tiny(**{"section.field": value}) → a tiny-random LoRA RunConfig on 64 bundled emails (seconds on 2 cores)."""
    runs_dir = tmp_path_factory.mktemp("runs")
    return lambda **overrides: _tiny_run_config(runs_dir, {k.replace("__", "."): v for k, v in overrides.items()})


@pytest.fixture(scope="session")
def events_of():
    return lambda run_dir: [json.loads(line) for line in run_dir.events_path.read_text().splitlines()]
