"""Every format, from every kind of source, converts to the same messages; conversion round-trips."""

import json

import pytest

from ft_jupyter.config import ConfigError
from ft_jupyter.data.formats import detect_format, messages_to_alpaca, to_messages
from ft_jupyter.data.load import load_data

ALPACA = {"instruction": "Classify this email", "input": "Where is my parcel?", "output": "question"}
EXPECTED = [
    {"role": "user", "content": "Classify this email\n\nWhere is my parcel?"},
    {"role": "assistant", "content": "question"},
]

ROWS_BY_FORMAT = {
    "messages": {"messages": EXPECTED},
    "alpaca": ALPACA,
    "sharegpt": {
        "conversations": [{"from": "human", "value": EXPECTED[0]["content"]}, {"from": "gpt", "value": "question"}]
    },
    "prompt-completion": {"prompt": EXPECTED[0]["content"], "completion": "question"},
}


@pytest.mark.parametrize("fmt", sorted(ROWS_BY_FORMAT))
def test_each_conversational_format_is_detected_and_converted(fmt):
    row = ROWS_BY_FORMAT[fmt]
    assert detect_format(row) == fmt
    assert to_messages(row, fmt) == EXPECTED


def test_conversational_prompt_completion_keeps_both_lists():
    row = {
        "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "completion": [{"role": "assistant", "content": "Hello"}],
    }
    assert [m["role"] for m in to_messages(row, "prompt-completion")] == ["system", "user", "assistant"]


def test_classification_and_plain_text_rows():
    rows = [{"text": f"email {i}", "label": "question" if i % 2 else "complaint"} for i in range(20)]
    data = load_data(rows)
    assert data.format == "classification" and data.labels == ("complaint", "question")
    assert data.rows[1].messages[-1] == {"role": "assistant", "content": "question"}
    assert data.rows[1].messages[0]["content"].endswith("\n\nemail 1")  # the text follows the instruction unchanged
    text = load_data([{"text": "A paragraph about tides."}])
    assert text.format == "text"
    assert text.rows[0].messages == (
        {"role": "user", "content": ""},
        {"role": "assistant", "content": "A paragraph about tides."},
    )


def test_system_prompt_is_added_to_every_row_without_one():
    rows = [ALPACA, {"messages": [{"role": "system", "content": "Own"}, *EXPECTED]}]
    for row in rows:
        fmt = detect_format(row)
        messages = to_messages(row, fmt, system_prompt="You sort support email.")
        assert messages[0]["role"] == "system"
        assert messages[0]["content"] == ("Own" if fmt == "messages" else "You sort support email.")


def test_files_of_every_kind_load_to_the_same_conversations(tmp_path):
    import pandas as pd

    rows = [dict(ALPACA, output=label) for label in ("question", "complaint", "billing")]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "d.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    pd.DataFrame(rows).to_csv(tmp_path / "d.csv", index=False)
    pd.DataFrame(rows).to_parquet(tmp_path / "d.parquet")
    expected = [r.messages for r in load_data(rows).rows]
    for name in ("d.jsonl", "d.json", "d.csv", "d.parquet"):
        data = load_data(str(tmp_path / name))
        assert data.format == "alpaca", name
        assert [r.messages for r in data.rows] == expected, name
    assert [r.messages for r in load_data(pd.DataFrame(rows)).rows] == expected


def test_locations_point_at_the_line_each_row_starts_on(tmp_path):
    rows = [dict(ALPACA, output=str(i)) for i in range(3)]
    (tmp_path / "d.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    assert [r.where for r in load_data(str(tmp_path / "d.json")).rows] == ["d.json:2", "d.json:7", "d.json:12"]
    csv = tmp_path / "d.csv"
    csv.write_text('instruction,input,output\n"two\nlines",x,a\nplain,y,b\n', encoding="utf-8")
    assert [r.where for r in load_data(str(csv)).rows] == ["d.csv:2", "d.csv:4"]


def test_csv_with_other_column_names_is_mapped(tmp_path):
    path = tmp_path / "tickets.csv"
    path.write_text("body,category\nMy parcel never came,complaint\nDo you ship to Oslo?,question\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="Cannot tell the format.*data.columns"):
        load_data(str(path))
    data = load_data(str(path), columns={"body": "text", "category": "label"})
    assert data.format == "classification" and data.labels == ("complaint", "question")
    assert data.rows[0].where == "tickets.csv:2" and data.rows[0].label == "complaint"
    with pytest.raises(ConfigError, match="'subject'.*columns found: body, category"):
        load_data(str(path), columns={"subject": "text"})


def test_nested_messages_from_parquet_and_hf_dataset(tmp_path):
    import pandas as pd

    datasets = pytest.importorskip("datasets")
    rows = [{"messages": EXPECTED}, {"messages": [EXPECTED[0], {"role": "assistant", "content": "complaint"}]}]
    pd.DataFrame(rows).to_parquet(tmp_path / "chat.parquet")
    for source in (str(tmp_path / "chat.parquet"), datasets.Dataset.from_list(rows)):
        data = load_data(source)
        assert data.format == "messages"
        assert [list(r.messages) for r in data.rows] == [r["messages"] for r in rows]
    assert load_data(str(tmp_path / "chat.parquet")).rows[1].where == "chat.parquet row 2"


def test_messages_round_trip_through_alpaca():
    for messages in (
        EXPECTED,
        [
            {"role": "system", "content": "Sort mail."},
            {"role": "user", "content": "Hi\n\nthere"},
            {"role": "assistant", "content": "feedback"},
        ],
        [{"role": "user", "content": "No blank line here"}, {"role": "assistant", "content": "x"}],
        [{"role": "user", "content": "Trailing gap\n\n"}, {"role": "assistant", "content": "y"}],
    ):
        assert to_messages(messages_to_alpaca(messages), "alpaca") == messages
    assert messages_to_alpaca(to_messages(ALPACA, "alpaca")) == ALPACA


def test_multi_turn_conversations_refuse_alpaca():
    multi = [*EXPECTED, {"role": "user", "content": "And?"}, {"role": "assistant", "content": "More."}]
    with pytest.raises(ConfigError, match="only single-turn"):
        messages_to_alpaca(multi)
