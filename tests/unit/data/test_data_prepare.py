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


def test_the_clean_bundled_set_prepares_without_a_warning():
    data = prepare(DataConfig(dataset="support-emails"), seed=3)
    assert data.warnings == () and data.problems == () and data.report.is_clean
    assert sum(data.sizes().values()) >= 650
    assert {e.label for e in data.test} == set(data.labels)  # stratified: every label is tested


def test_the_dirty_twin_is_refused_strictly_and_cleaned_only_as_asked():
    refused = r"(?s)data.strict: false.*support_emails_dirty.jsonl:15: field 'label' is empty"
    with pytest.raises(ConfigError, match=refused):
        prepare(DataConfig(dataset="support-emails-dirty"))
    lenient = prepare(DataConfig(dataset="support-emails-dirty", strict=False))
    assert sum(lenient.sizes().values()) == 345 and len(lenient.problems) == 19
    assert any("Skipped 19 rows" in w for w in lenient.warnings)
    assert any("'contradictions' to data.drop" in w for w in lenient.warnings)
    drop = ("exact-duplicates", "near-duplicates", "contradictions", "rare-labels")
    cleaned = prepare(DataConfig(dataset="support-emails-dirty", strict=False, drop=drop))
    assert sum(cleaned.sizes().values()) == 282
    assert cleaned.cleaning.removed == {
        "exact-duplicates": 25,
        "near-duplicates": 15,
        "contradictions": 20,
        "rare-labels": 3,
    }
    assert [w for w in cleaned.warnings if "data.drop" in w] == []
    # The instruction lists only the labels left after cleaning, and every row uses it.
    assert cleaned.labels == ("billing", "bug_report", "complaint", "feedback", "question")
    assert "billings" not in cleaned.instruction
    assert all(e.messages[0]["content"].startswith(cleaned.instruction) for e in cleaned.train)


def test_prepare_reads_a_dataframe_and_infers_labels_from_short_answers():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "prompt": [f"Is {i} even?" for i in range(40)],
            "completion": ["yes" if i % 2 == 0 else "no" for i in range(40)],
        }
    )
    data = prepare(DataConfig(dataset="in-memory"), seed=0, source=frame)
    assert data.format == "prompt-completion" and data.labels == ("no", "yes")
    assert {e.label for e in data.test} == {"no", "yes"} and data.train[0].where.startswith("row ")
