"""Accuracy of generated labels: the simplest honest measure for classification-style fine-tunes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


def normalise_label(text: str) -> str:
    """First line, lower case, letters and digits only: 'Bug report.' and 'bug_report' compare equal."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return re.sub(r"[^a-z0-9]", "", first.lower())


@dataclass(frozen=True)
class ClassificationReport:
    accuracy: float
    invalid_rate: float         # answers that are not any known label
    n: int
    predictions: list[str] = field(repr=False)
    labels: list[str] = field(repr=False)


def score_labels(predictions: list[str], gold: list[str], label_set: tuple[str, ...]) -> ClassificationReport:
    if len(predictions) != len(gold):
        raise ValueError(f"{len(predictions)} predictions for {len(gold)} gold labels")
    known = {normalise_label(lbl) for lbl in label_set}
    norm = [normalise_label(p) for p in predictions]
    correct = sum(p == normalise_label(g) for p, g in zip(norm, gold))
    invalid = sum(p not in known for p in norm)
    n = len(gold)
    return ClassificationReport(correct / n if n else 0.0, invalid / n if n else 0.0, n, predictions, gold)


def evaluate_classification(model: Any, tokenizer: Any, examples: list[Any], label_set: tuple[str, ...], *,
                            batch_size: int = 16) -> ClassificationReport:
    from ft_jupyter.evaluate.generation import generate_answers

    longest = max(len(tokenizer(lbl, add_special_tokens=False)["input_ids"]) for lbl in label_set)
    answers = generate_answers(model, tokenizer, [e.prompt for e in examples], max_new_tokens=longest + 3,
                               batch_size=batch_size)
    return score_labels(answers, [e.label for e in examples], label_set)
