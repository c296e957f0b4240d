import pytest

from ft_jupyter.config import DataConfig, MethodConfig, ModelConfig, RunConfig, TrainingConfig


@pytest.fixture()
def tiny_config(tmp_path):
    """A tiny-random LoRA run on the bundled emails that trains in seconds on a CPU."""
    return RunConfig(
        name="tiny",
        runs_dir=str(tmp_path / "runs"),
        model=ModelConfig(name="tiny-random"),
        method=MethodConfig(method="lora", r=8, alpha=16, dropout=0.0),
        data=DataConfig(dataset="support-emails", max_rows=240),
        training=TrainingConfig(
            max_steps=30, batch_size=8, learning_rate=5e-3, max_seq_len=128, warmup_ratio=0.0, seed=7
        ),
    )
