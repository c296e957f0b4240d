import json

import pytest

from ft_jupyter.config import ConfigError, DataConfig
from ft_jupyter.data.formats import detect_format, messages_to_alpaca, to_messages
from ft_jupyter.data.prepare import prepare, split_rows


def _write(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return str(path)


def test_split_is_seeded_disjoint_and_stratified():
    items = list(range(200))
    labels = ["a"] * 150 + ["b"] * 50
    train, val, test = split_rows(items, labels, 0.1, 0.2, seed=1)
    assert sorted(train + val + test) == items
    assert len(set(train) & set(test)) == 0 and len(set(val) & set(test)) == 0
    assert sum(1 for i in test if labels[i] == "b") == 10  # 20% of each label
    assert split_rows(items, labels, 0.1, 0.2, seed=1) == (train, val, test)
    assert split_rows(items, labels, 0.1, 0.2, seed=2) != (train, val, test)


def test_classification_rows_become_conversations_with_an_instruction(tmp_path):
    rows = [{"text": f"email {i}", "label": "question" if i % 2 else "complaint"} for i in range(40)]
    data = prepare(DataConfig(dataset=_write(tmp_path / "d.jsonl", rows)), seed=0)
    assert data.format == "classification"
    assert data.labels == ("complaint", "question")
    ex = data.train[0]
    assert ex.messages[-1]["role"] == "assistant" and ex.answer == ex.label
    assert "complaint, question" in ex.messages[0]["content"]


def test_alpaca_round_trips_through_messages():
    row = {"instruction": "Classify this email", "input": "Where is my parcel?", "output": "question"}
    assert detect_format(row) == "alpaca"
    assert messages_to_alpaca(to_messages(row, "alpaca")) == row


def test_invalid_json_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.jsonl:2: invalid JSON"):
        prepare(DataConfig(dataset=str(path)))


def test_missing_file_says_what_to_give(tmp_path):
    with pytest.raises(ConfigError, match="does not exist.*support-emails"):
        prepare(DataConfig(dataset=str(tmp_path / "none.jsonl")))
