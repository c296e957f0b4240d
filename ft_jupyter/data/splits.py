"""Seeded train/validation/test splits: stratified by label, duplicates kept together, disjointness checked."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from ft_jupyter.config import ConfigError


def split_rows(
    items: Sequence[Any],
    labels: Sequence[str | None],
    validation_fraction: float,
    test_fraction: float,
    seed: int,
    keys: Sequence[str] | None = None,
) -> tuple[list[Any], list[Any], list[Any]]:
    """Split `items` into train/validation/test.

    Stratified by label when every item has one, so each label appears in every split in proportion. Items with equal
    `keys` (e.g. the normalised text, so rows differing only in spacing or case) always land in the same split:
    otherwise a test row could have been trained on under another spelling.
    """
    rng = random.Random(seed)
    keys = keys if keys is not None else [str(i) for i in range(len(items))]
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    stratify = bool(labels) and all(label is not None for label in labels)
    strata: dict[str | None, list[list[int]]] = defaultdict(list)
    for members in groups.values():
        strata[labels[members[0]] if stratify else None].append(members)
    train: list[int] = []
    val: list[int] = []
    test: list[int] = []
    for stratum in sorted(strata, key=str):
        stratum_groups = strata[stratum]
        rng.shuffle(stratum_groups)
        size = sum(len(g) for g in stratum_groups)
        n_test, n_val = round(size * test_fraction), round(size * validation_fraction)
        taken_test = taken_val = 0
        for members in stratum_groups:
            if taken_test < n_test:
                test += members
                taken_test += len(members)
            elif taken_val < n_val:
                val += members
                taken_val += len(members)
            else:
                train += members
    for part in (train, val, test):
        rng.shuffle(part)
    return [items[i] for i in train], [items[i] for i in val], [items[i] for i in test]


def check_disjoint(splits: dict[str, list[Any]], key: Callable[[Any], str], where: Callable[[Any], str]) -> None:
    """Raise ConfigError naming the rows when any key (normalised text) occurs in two splits."""
    seen: dict[str, tuple[str, Any]] = {}
    clashes = []
    for name, part in splits.items():
        for item in part:
            k = key(item)
            if k in seen and seen[k][0] != name:
                clashes.append(f"{where(seen[k][1])} ({seen[k][0]}) and {where(item)} ({name})")
            seen.setdefault(k, (name, item))
    if clashes:
        raise ConfigError(
            f"{len(clashes)} rows appear in two splits (same text up to spacing/case): "
            f"{'; '.join(clashes[:5])}. Drop duplicates (data.drop: [exact-duplicates, "
            "near-duplicates]) or split with ft_jupyter.data.splits.split_rows(keys=...)."
        )


def split_table(splits: dict[str, list[Any]], label: Callable[[Any], str | None]) -> str:
    """Sizes per split, with label counts when the data has labels."""
    labels = sorted({label(x) for part in splits.values() for x in part if label(x) is not None})
    lines = []
    for name, part in splits.items():
        counts = Counter(label(x) for x in part)
        detail = ("  " + ", ".join(f"{lab} {counts.get(lab, 0)}" for lab in labels)) if labels else ""
        lines.append(f"  {name:<10} {len(part):>6} rows{detail}")
    return "\n".join(lines)
