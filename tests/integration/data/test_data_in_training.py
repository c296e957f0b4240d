"""The data step inside a real run: the clean set trains without a warning; the dirty twin's findings are logged."""

import json

import pytest

from ft_jupyter.config import DataConfig, MethodConfig, ModelConfig, RunConfig, TrainingConfig

pytestmark = pytest.mark.integration


def _config(tmp_path, data: DataConfig, steps: int) -> RunConfig:
    return RunConfig(
        name="data",
        runs_dir=str(tmp_path / "runs"),
        model=ModelConfig(name="tiny-random"),
        method=MethodConfig(method="lora", r=8, alpha=16, dropout=0.0),
        data=data,
        training=TrainingConfig(
            max_steps=steps, batch_size=8, learning_rate=2e-3, max_seq_len=320, warmup_ratio=0.0, seed=7
        ),
    )


def _events(result):
    return [json.loads(line) for line in result.run_dir.events_path.read_text().splitlines()]


def test_the_clean_set_trains_without_a_warning(tmp_path):
    from ft_jupyter.train import run_training

    result = run_training(_config(tmp_path, DataConfig(dataset="support-emails", max_rows=160), steps=12))
    events = _events(result)
    assert [e for e in events if e["type"] == "warning"] == []
    assert events[0]["template_note"] and result.state == "finished"
    losses = [loss for _, loss in result.losses]
    assert sum(losses[-3:]) < sum(losses[:3]), losses
    assert all(p.abs().sum() > 0 for n, p in result.model.named_parameters() if "lora_B" in n)


def test_the_dirty_twin_trains_leniently_with_its_findings_logged(tmp_path):
    from ft_jupyter.train import run_training

    data = DataConfig(dataset="support-emails-dirty", strict=False, drop=("exact-duplicates",))
    result = run_training(_config(tmp_path, data, steps=2))
    warnings = [e["message"] for e in _events(result) if e["type"] == "warning"]
    assert any(w.startswith("Skipped 19 rows") for w in warnings)
    assert any("'near-duplicates' to data.drop" in w for w in warnings)
    assert not any("'exact-duplicates' to data.drop" in w for w in warnings)  # dropped, so not warned about
