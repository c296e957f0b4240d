"""From a DataConfig to train/validation/test conversations, ready for the trainer and the evaluator."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ft_jupyter.config import ConfigError, DataConfig
from ft_jupyter.data.bundled import BUNDLED, load_bundled
from ft_jupyter.data.formats import default_instruction, detect_format, to_messages


@dataclass(frozen=True)
class Example:
    """One conversation; `label` is set for classification-style data (the assistant's answer)."""

    messages: tuple[dict[str, str], ...]
    label: str | None = None

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

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}


def read_rows(source: str) -> list[dict[str, Any]]:
    """Rows of a bundled dataset (by name) or a JSONL file; errors name the file and line."""
    if source in BUNDLED:
        return load_bundled(source)
    path = Path(source).expanduser()
    if not path.is_file():
        raise ConfigError(f"Data file {str(path)!r} does not exist. Give a JSONL file path or one of the bundled "
                          f"datasets: {', '.join(BUNDLED)}.")
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{lineno}: invalid JSON ({exc.msg}, column {exc.colno}); each line must "
                                  "be one JSON object.") from None
            if not isinstance(row, dict):
                raise ConfigError(f"{path}:{lineno}: expected a JSON object per line, got {type(row).__name__}.")
            rows.append(row)
    if not rows:
        raise ConfigError(f"{path}: the file has no rows.")
    return rows


def split_rows(items: list[Any], labels: list[str | None], validation_fraction: float, test_fraction: float,
               seed: int) -> tuple[list[Any], list[Any], list[Any]]:
    """Seeded split, stratified by label when every row has one, so rare labels appear in every split."""
    rng = random.Random(seed)
    groups: dict[str | None, list[int]] = defaultdict(list)
    stratify = all(label is not None for label in labels)
    for i, label in enumerate(labels):
        groups[label if stratify else None].append(i)
    train, val, test = [], [], []
    for key in sorted(groups, key=str):
        idx = groups[key]
        rng.shuffle(idx)
        n_test = round(len(idx) * test_fraction)
        n_val = round(len(idx) * validation_fraction)
        test += idx[:n_test]
        val += idx[n_test:n_test + n_val]
        train += idx[n_test + n_val:]
    for part in (train, val, test):
        rng.shuffle(part)
    return [items[i] for i in train], [items[i] for i in val], [items[i] for i in test]


def prepare(config: DataConfig, seed: int = 42) -> PreparedData:
    rows = read_rows(config.dataset)
    fmt = config.format if config.format != "auto" else detect_format(rows[0])
    labels = None
    instruction = config.instruction
    if fmt == "classification":
        labels = tuple(sorted({str(r["label"]) for r in rows}))
        instruction = instruction or default_instruction(labels)
    examples = []
    for i, row in enumerate(rows):
        try:
            messages = to_messages(row, fmt, instruction=instruction, system_prompt=config.system_prompt)
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"{config.dataset}: row {i + 1} does not fit the {fmt!r} format (missing {exc}).") \
                from None
        examples.append(Example(tuple(messages), str(row["label"]) if fmt == "classification" else None))
    if config.max_rows:
        rng = random.Random(seed)
        examples = rng.sample(examples, min(config.max_rows, len(examples)))
    train, val, test = split_rows(examples, [e.label for e in examples], config.validation_fraction,
                                  config.test_fraction, seed)
    if not train:
        raise ConfigError(f"{config.dataset}: no rows left for training after the validation/test split; add data "
                          "or lower data.validation_fraction / data.test_fraction.")
    return PreparedData(train, val, test, fmt, labels, instruction)
