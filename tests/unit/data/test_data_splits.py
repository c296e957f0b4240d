"""Splits: seeded, stratified by label, sizes reported, and no row (not even a re-spaced copy) in two splits."""

import json

import pytest

from ft_jupyter.config import ConfigError, DataConfig
from ft_jupyter.data.cleaning import row_key
from ft_jupyter.data.prepare import prepare
from ft_jupyter.data.splits import check_disjoint, split_rows


def test_split_is_seeded_disjoint_and_stratified():
    items = list(range(200))
    labels = ["a"] * 150 + ["b"] * 50
    train, val, test = split_rows(items, labels, 0.1, 0.2, seed=1)
    assert sorted(train + val + test) == items
    assert not set(train) & set(test) and not set(val) & set(test) and not set(train) & set(val)
    assert sum(labels[i] == "b" for i in test) == 10 and sum(labels[i] == "a" for i in test) == 30
    assert sum(labels[i] == "b" for i in val) == 5
    assert split_rows(items, labels, 0.1, 0.2, seed=1) == (train, val, test)
    assert split_rows(items, labels, 0.1, 0.2, seed=2) != (train, val, test)


def test_rows_with_equal_keys_stay_together():
    items = list(range(100))
    keys = [str(i // 4) for i in items]  # 25 groups of four copies
    for seed in range(5):
        parts = split_rows(items, [None] * 100, 0.2, 0.2, seed, keys=keys)
        owner = {}
        for n, part in enumerate(parts):
            for i in part:
                assert owner.setdefault(keys[i], n) == n


def test_check_disjoint_names_the_clash():
    with pytest.raises(ConfigError, match=r"1 rows appear in two splits.*r1 \(train\) and r9 \(test\)"):
        check_disjoint({"train": [("r1", "k")], "test": [("r9", "k")]}, key=lambda x: x[1], where=lambda x: x[0])


def test_prepare_keeps_whitespace_variants_in_one_split(tmp_path):
    rows = []
    for i in range(60):
        text = f"My order number {i} has not arrived yet"
        rows.append({"text": text, "label": ("complaint", "question", "billing")[i % 3]})
        if i % 5 == 0:  # a copy differing only in spacing and case: a leak if it landed in another split
            rows.append({"text": "  " + text.upper().replace(" ", "   ") + "\n", "label": rows[-1]["label"]})
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    for seed in range(4):
        data = prepare(DataConfig(dataset=str(path), validation_fraction=0.2, test_fraction=0.2), seed=seed)
        seen = {}
        for name, part in data.splits().items():
            for ex in part:
                assert seen.setdefault(row_key(ex), name) == name
        assert sum(data.sizes().values()) == len(rows)
        assert {e.label for e in data.test} == {"complaint", "question", "billing"}
    assert "train" in data.split_text() and "complaint" in data.split_text()
