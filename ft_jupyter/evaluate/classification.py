"""Accuracy of generated labels: the simplest honest measure for classification-style fine-tunes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ft_jupyter.evaluate.metrics import ClassificationMetrics, classification_metrics, normalise_label

__all__ = ["ClassificationReport", "evaluate_classification", "normalise_label", "score_labels"]


@dataclass(frozen=True)
class ClassificationReport:
    accuracy: float
    invalid_rate: float  # answers that are not any known label
    n: int
    predictions: list[str] = field(repr=False)
    labels: list[str] = field(repr=False)
    metrics: ClassificationMetrics | None = field(default=None, repr=False)  # macro-F1, per class, confusion

    @property
    def macro_f1(self) -> float:
        return self.metrics.macro_f1 if self.metrics else 0.0


def score_labels(predictions: list[str], gold: list[str], label_set: tuple[str, ...]) -> ClassificationReport:
    metrics = classification_metrics(predictions, gold, label_set)
    return ClassificationReport(metrics.accuracy, metrics.invalid_rate, metrics.n, predictions, gold, metrics)


def label_token_budget(tokenizer: Any, label_set: tuple[str, ...]) -> int:
    """New tokens enough for the longest label plus end-of-turn and a little slack."""
    return max(len(tokenizer(lbl, add_special_tokens=False)["input_ids"]) for lbl in label_set) + 3


def evaluate_classification(
    model: Any,
    tokenizer: Any,
    examples: list[Any],
    label_set: tuple[str, ...],
    *,
    batch_size: int = 16,
    desc: str = "Classifying",
    progress: bool | None = None,
) -> ClassificationReport:
    """Generate a label for each example and score it; a bar labelled `desc` counts the rows."""
    from ft_jupyter.evaluate.generation import generate_answers

    answers = generate_answers(
        model,
        tokenizer,
        [e.prompt for e in examples],
        max_new_tokens=label_token_budget(tokenizer, label_set),
        batch_size=batch_size,
        desc=desc,
        progress=progress,
    )
    return score_labels(answers, [e.label for e in examples], label_set)
