"""Task metrics on generated answers: classification-style (accuracy, macro-F1, per-class precision/recall,
confusion matrix, invalid-answer rate) and generation-style (exact match, token F1, ROUGE-L).

Pure Python apart from ROUGE-L, which uses Google's `rouge-score` package (the reference implementation).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

INVALID = "(not a label)"


def normalise_label(text: str) -> str:
    """First line, lower case, letters and digits only: 'Bug report.' and 'bug_report' compare equal."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return re.sub(r"[^a-z0-9]", "", first.lower())


def canonical_label(answer: str, labels: tuple[str, ...] | list[str]) -> str | None:
    """The label an answer names (after normalisation), or None when it names none."""
    wanted = normalise_label(answer)
    return next((label for label in labels if normalise_label(label) == wanted), None)


@dataclass(frozen=True)
class ClassMetrics:
    precision: float
    recall: float
    f1: float
    support: int  # gold examples of this class


@dataclass(frozen=True)
class ClassificationMetrics:
    accuracy: float
    macro_f1: float
    invalid_rate: float  # answers that are not any known label
    n: int
    per_class: dict[str, ClassMetrics]
    confusion: dict[str, dict[str, int]]  # gold label → predicted label (or INVALID) → count
    correct: list[bool] = field(repr=False)  # per example

    def to_json(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "invalid_rate": self.invalid_rate,
            "n": self.n,
            "per_class": {k: vars(v) for k, v in self.per_class.items()},
            "confusion": self.confusion,
        }


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def classification_metrics(
    predictions: list[str], gold: list[str], labels: tuple[str, ...] | list[str]
) -> ClassificationMetrics:
    """Score free-text answers against gold labels; macro-F1 averages over the label set (absent classes count 0)."""
    if len(predictions) != len(gold):
        raise ValueError(f"{len(predictions)} predictions for {len(gold)} gold labels")
    labels = list(labels)
    predicted = [canonical_label(p, labels) for p in predictions]
    truth = [canonical_label(g, labels) or g for g in gold]
    correct = [p == g for p, g in zip(predicted, truth, strict=True)]
    confusion = {g: dict.fromkeys([*labels, INVALID], 0) for g in labels}
    for p, g in zip(predicted, truth, strict=True):
        confusion.setdefault(g, dict.fromkeys([*labels, INVALID], 0))[p or INVALID] += 1
    per_class = {}
    for label in labels:
        tp = confusion[label][label]
        predicted_as = sum(row[label] for row in confusion.values())
        support = sum(confusion[label].values())
        p, r = (tp / predicted_as if predicted_as else 0.0), (tp / support if support else 0.0)
        per_class[label] = ClassMetrics(p, r, _f1(p, r), support)
    n = len(gold)
    return ClassificationMetrics(
        accuracy=sum(correct) / n if n else 0.0,
        macro_f1=sum(c.f1 for c in per_class.values()) / len(per_class) if per_class else 0.0,
        invalid_rate=sum(p is None for p in predicted) / n if n else 0.0,
        n=n,
        per_class=per_class,
        confusion=confusion,
        correct=correct,
    )


def normalise_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (the SQuAD normalisation)."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def token_f1(prediction: str, reference: str) -> float:
    """F1 over the bags of normalised words of the two answers."""
    pred, ref = normalise_answer(prediction).split(), normalise_answer(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    return _f1(common / len(pred), common / len(ref))


def _rouge_scorer():
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        from ft_jupyter.install import install_line

        raise ImportError(f"ROUGE-L needs the rouge-score package: {install_line('rouge_score')}") from None
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


@dataclass(frozen=True)
class GenerationMetrics:
    exact_match: float
    token_f1: float
    rouge_l: float  # mean ROUGE-L F-measure
    n: int
    per_example: list[dict[str, float]] = field(repr=False)  # {"exact_match", "token_f1", "rouge_l"} per example

    def to_json(self) -> dict[str, Any]:
        return {"exact_match": self.exact_match, "token_f1": self.token_f1, "rouge_l": self.rouge_l, "n": self.n}


def generation_metrics(predictions: list[str], references: list[str]) -> GenerationMetrics:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    scorer = _rouge_scorer()
    rows = [
        {
            "exact_match": float(normalise_answer(p) == normalise_answer(r)),
            "token_f1": token_f1(p, r),
            "rouge_l": scorer.score(r, p)["rougeL"].fmeasure,
        }
        for p, r in zip(predictions, references, strict=True)
    ]
    n = len(rows)

    def mean(key: str) -> float:
        return sum(row[key] for row in rows) / n if n else 0.0

    return GenerationMetrics(mean("exact_match"), mean("token_f1"), mean("rouge_l"), n, rows)
