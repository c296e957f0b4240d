"""The learning curve trains for real: tiny-random on growing subsets of the emails' training split, each run scored
on the same test rows, the subsets nested, and the command line reporting the same table."""

from __future__ import annotations

import json

import pytest

from ft_jupyter.cli import main
from ft_jupyter.config import ConfigError, DataConfig, MethodConfig, ModelConfig, RunConfig, TrainingConfig
from ft_jupyter.data.prepare import prepare, row_key
from ft_jupyter.evaluate.learning_curve import learning_curve
from ft_jupyter.train.store import RunDir


def _config(root) -> RunConfig:
    return RunConfig(
        name="curve",
        runs_dir=str(root),
        model=ModelConfig(name="tiny-random"),
        method=MethodConfig(method="lora", r=8, alpha=16, dropout=0.0),
        data=DataConfig(dataset="support-emails", max_rows=200),
        training=TrainingConfig(
            epochs=1.0, batch_size=8, learning_rate=5e-3, max_seq_len=128, warmup_ratio=0.0, seed=7
        ),
    )


@pytest.fixture(scope="module")
def curve(tmp_path_factory):
    root = tmp_path_factory.mktemp("curve") / "runs"
    return root, learning_curve(_config(root), (16, 48, 0), max_rows=10, shots=1, progress=False)


def test_one_run_per_size_each_scored_on_the_same_test_rows(curve):
    root, result = curve
    full = len(prepare(_config(root).data, seed=7, progress=False).train)
    assert [p.train_rows for p in result.points] == [16, 48, full]
    assert result.test_rows == 10 and result.metric == "accuracy"
    fingerprints = set()
    for point in result.points:
        saved = json.loads((root / point.run_id / "evaluation" / "comparison.json").read_text())
        assert saved["scores"]["finetuned"]["accuracy"] == point.score
        fingerprints.add(saved["data"]["fingerprint"])
        started = next(e for e in RunDir(root / point.run_id).read_events()[0] if e["type"] == "run_started")
        assert started["train_rows"] == point.train_rows
    assert len(fingerprints) == 1  # the same held-out rows for every size
    # One epoch each: a run on more rows takes more optimizer steps.
    assert [p.steps for p in result.points] == sorted(p.steps for p in result.points)
    assert result.points[0].steps < result.points[-1].steps
    assert set(result.baselines) == {"prompted", "retrieved"}
    assert "gain / 100 rows" in result.table() and len(result.gain_per_100_rows()) == 2


def test_smaller_subsets_are_inside_larger_ones():
    config = _config("unused").data
    small = prepare(
        config.replace(train_rows=16)
        if hasattr(config, "replace")
        else DataConfig(dataset="support-emails", max_rows=200, train_rows=16),
        seed=7,
        progress=False,
    )
    large = prepare(DataConfig(dataset="support-emails", max_rows=200, train_rows=48), seed=7, progress=False)
    whole = prepare(DataConfig(dataset="support-emails", max_rows=200), seed=7, progress=False)
    assert len(small.train) == 16 and len(large.train) == 48
    assert {row_key(e) for e in small.train} <= {row_key(e) for e in large.train}
    assert small.test == large.test == whole.test and small.validation == whole.validation


def test_sizes_beyond_the_training_split_are_refused_before_training(tmp_path):
    with pytest.raises(ConfigError, match="more than the"):
        learning_curve(_config(tmp_path / "runs"), (10, 100000))
    assert not (tmp_path / "runs").exists()


def test_the_command_line_reports_the_curve(tmp_path, capsys):
    config = tmp_path / "curve.yaml"
    config.write_text(_config(tmp_path / "runs").with_overrides({"training.max_steps": 2}).to_yaml())
    assert main(["learning-curve", str(config), "--sizes", "8,all", "--max-rows", "4", "--no-baselines", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["train_rows"] for p in data["points"]][0] == 8 and data["baselines"] == {}
    assert main(["learning-curve", str(config), "--sizes", "8,lots"]) == 2
    assert "--sizes" in capsys.readouterr().err
