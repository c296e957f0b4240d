"""The budget checklist reads what earlier steps saved in the run folder: a comparison that scored only the fine-tuned
model does not count as a prompted baseline (and does not crash it), and scored quantized copies answer the
quantized-copy question."""

import json

import pytest

from ft_jupyter.config import RunConfig
from ft_jupyter.evaluate.checklist import budget_checklist
from ft_jupyter.evaluate.runs import EVALUATION_DIR
from ft_jupyter.export.quantized import CopyScore, QuantizedReport
from ft_jupyter.train.store import RunStore

PROMPT_FIRST = "Did you first see how far a well-written prompt gets you, with no training at all?"
QUANTIZED = "Does a quantized (lower-precision, smaller) copy still give good enough answers?"


@pytest.fixture()
def run(tmp_path):
    config = RunConfig.from_dict({"runs_dir": str(tmp_path / "runs"), "model": {"name": "tiny-random"}})
    return RunStore(config.runs_dir).create(config)


def _item(run, question):
    return next(item for item in budget_checklist(run).items if item.question == question)


def _copy(copy, score):
    return CopyScore(copy, copy, 8.0, 1000, "accuracy", score, {}, 1.0)


def test_a_finetuned_only_comparison_is_not_a_prompted_baseline(run):
    folder = run.path / EVALUATION_DIR
    folder.mkdir(parents=True)
    scores = {"finetuned": {"accuracy": 0.8}}
    (folder / "comparison.json").write_text(json.dumps({"metric": "accuracy", "scores": scores}))
    item = _item(run, PROMPT_FIRST)
    assert item.status == "unmet" and "no comparison with the prompted base model" in item.evidence


def test_quantized_copies_answer_their_question(run):
    assert _item(run, QUANTIZED).status == "unknown"
    report = QuantizedReport(run.run_id, 40, "accuracy", [_copy("merged", 0.80), _copy("8bit", 0.775)], {})
    run.export_path.mkdir()
    (run.export_path / "quantized.json").write_text(json.dumps(report.to_json()))
    item = _item(run, QUANTIZED)
    assert item.status == "met" and "8bit -2.5 points" in item.evidence  # one row of 40: within two

    report.rows[1] = _copy("4bit", 0.70)  # four rows lost
    (run.export_path / "quantized.json").write_text(json.dumps(report.to_json()))
    assert _item(run, QUANTIZED).status == "unmet"
