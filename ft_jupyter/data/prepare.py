"""From a DataConfig to train/validation/test conversations, ready for the trainer and the evaluator.

load (formats, validation) → cleaning report → the drops the config names → seeded, stratified, duplicate-aware
split → PreparedData, whose `warnings` say what was skipped or left in (the trainer logs them).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field, replace
from typing import Any

from ft_jupyter.config import ConfigError, DataConfig
from ft_jupyter.data.cleaning import CleaningReport, CleaningResult, apply_cleaning, clean_report, row_key
from ft_jupyter.data.formats import classification_prompt, default_instruction
from ft_jupyter.data.load import LoadedData, Row, load_data, load_for_config
from ft_jupyter.data.problems import Problem
from ft_jupyter.data.splits import check_disjoint, split_rows, split_table


@dataclass(frozen=True)
class Example:
    """One conversation; `label` is set for classification-style data (the assistant's answer)."""

    messages: tuple[dict[str, str], ...]
    label: str | None = None
    where: str = ""  # file:line it came from

    @property
    def prompt(self) -> list[dict[str, str]]:
        """Everything before the final assistant answer: what the model sees at inference time."""
        return list(self.messages[:-1])

    @property
    def answer(self) -> str:
        return self.messages[-1]["content"]


@dataclass(frozen=True)
class PreparedData:
    train: list[Example]
    validation: list[Example]
    test: list[Example]
    format: str
    labels: tuple[str, ...] | None
    instruction: str | None
    warnings: tuple[str, ...] = ()  # for the run log: skipped rows, findings left in
    problems: tuple[Problem, ...] = ()  # rows lenient mode skipped
    report: CleaningReport | None = field(default=None, compare=False, repr=False)
    cleaning: CleaningResult | None = field(default=None, compare=False, repr=False)

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}

    def splits(self) -> dict[str, list[Example]]:
        return {"train": self.train, "validation": self.validation, "test": self.test}

    def split_text(self) -> str:
        return split_table(self.splits(), lambda e: e.label)

    def fingerprints(self) -> dict[str, str]:
        """A short hash of each split's rows: two runs were measured on the same held-out rows exactly when their
        fingerprints match (whatever the file was called, wherever it lay)."""
        return {name: fingerprint(rows) for name, rows in self.splits().items()}


def fingerprint(examples: list[Example]) -> str:
    """12 hex digits naming a set of rows, independent of their order."""
    digest = hashlib.sha256()
    for key in sorted(row_key(e) for e in examples):
        digest.update(key.encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()[:12]


def read_rows(source: Any) -> list[dict[str, Any]]:
    """Raw rows of a bundled dataset, file, list or frame, strictly validated; errors name the file and line."""
    return [row.source for row in load_data(source, strict=True).rows]


def _refresh_instruction(rows: list[Row], loaded: LoadedData, config: DataConfig) -> tuple[list[Row], Any, Any]:
    """After cleaning, a classification instruction built from the labels must list only the labels still present."""
    if loaded.format != "classification" or not rows:
        return rows, loaded.labels, loaded.instruction
    labels = tuple(sorted({r.label for r in rows if r.label is not None}))
    if config.instruction is not None or labels == loaded.labels:
        return rows, labels, loaded.instruction
    instruction = default_instruction(labels)
    fresh = []
    for r in rows:
        messages = list(r.messages)
        messages[-2] = {"role": "user", "content": classification_prompt(r.source["text"], instruction)}
        fresh.append(replace(r, messages=tuple(messages)))
    return fresh, labels, instruction


def _skipped_warning(problems: list[Problem], dataset: str) -> list[str]:
    if not problems:
        return []
    first = str(problems[0]).rstrip(".")
    return [
        f"Skipped {len(problems)} rows that failed validation (data.strict is false), e.g. {first}. See them "
        f"all with: ft-jupyter data check {dataset} --lenient"
    ]


def prepare(config: DataConfig, seed: int = 42, *, source: Any = None, progress: bool | None = None) -> PreparedData:
    """Load, clean (only what config.drop names), and split. `source` overrides config.dataset (e.g. a DataFrame);
    progress=False hides the cleaning report's bar on big data."""
    loaded = load_for_config(config, source)
    report = clean_report(loaded.rows, loaded.labels, progress=progress)
    cleaned = apply_cleaning(report, config.drop)
    rows, labels, instruction = _refresh_instruction(cleaned.rows, loaded, config)
    examples = [Example(r.messages, r.label, r.where) for r in rows]
    if config.max_rows:
        examples = random.Random(seed).sample(examples, min(config.max_rows, len(examples)))
    train, val, test = split_rows(
        examples,
        [e.label for e in examples],
        config.validation_fraction,
        config.test_fraction,
        seed,
        keys=[row_key(e) for e in examples],
    )
    if config.train_rows and config.train_rows < len(train):
        # A seeded order of the training split, cut to length: 50 rows are the first 50 of the 150.
        order = list(train)
        random.Random(f"train_rows-{seed}").shuffle(order)
        train = order[: config.train_rows]
    if not train:
        raise ConfigError(
            f"{config.dataset}: no rows left for training after cleaning and the validation/test "
            "split; add data, drop fewer findings, or lower data.validation_fraction / "
            "data.test_fraction."
        )
    check_disjoint({"train": train, "validation": val, "test": test}, row_key, lambda e: e.where)
    warnings = _skipped_warning(loaded.problems, config.dataset) + report.warnings(config.drop)
    return PreparedData(
        train, val, test, loaded.format, labels, instruction, tuple(warnings), tuple(loaded.problems), report, cleaned
    )
