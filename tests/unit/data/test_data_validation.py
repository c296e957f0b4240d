"""Each bad input class gives one clear message naming file:line (strict) and is skipped and reported (lenient)."""

import json

import pytest

from ft_jupyter.data.load import load_data
from ft_jupyter.data.problems import DataError

GOOD = {"messages": [{"role": "user", "content": "Where is my parcel?"}, {"role": "assistant", "content": "question"}]}


def _msgs(*pairs):
    return {"messages": [{"role": r, "content": c} for r, c in pairs]}


# (bad line content, words the message must contain); the bad line is always line 3 of the file.
BAD_LINES = {
    "invalid-json": ('{"messages": [{"role": "user", "content": "hi"}', "invalid JSON"),
    "trailing-comma": ('{"messages": [], }', "trailing comma"),
    "python-dict": ("{'messages': []}", "single quotes"),
    "wrong-type": ('"just a string"', "JSON string, not an object"),
    "missing-field": (json.dumps({"prompt": "hi"}), "missing the field 'messages' (fields present: prompt)"),
    "unknown-role": (json.dumps(_msgs(("human", "hi"), ("assistant", "yo"))), "unknown role 'human'"),
    "empty-content": (json.dumps(_msgs(("user", "hi"), ("assistant", "  "))), "message 1 (assistant) is empty"),
    "not-ending": (
        json.dumps(_msgs(("user", "hi"), ("assistant", "yo"), ("user", "and?"))),
        "ends with a user message",
    ),
    "too-long": (json.dumps(_msgs(("user", "x" * 7000), ("assistant", "yo"))), "7,002 characters long"),
}


def _file(tmp_path, bad_line: bytes | str, name="data.jsonl"):
    raw = bad_line.encode("utf-8") if isinstance(bad_line, str) else bad_line
    path = tmp_path / name
    path.write_bytes(
        json.dumps(GOOD).encode()
        + b"\n"
        + json.dumps(GOOD).encode()
        + b"\n"
        + raw
        + b"\n"
        + json.dumps(GOOD).encode()
        + b"\n"
    )
    return str(path)


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_strict_mode_stops_with_one_located_message(tmp_path, case):
    line, words = BAD_LINES[case]
    with pytest.raises(DataError) as info:
        load_data(_file(tmp_path, line))
    message = str(info.value)
    assert "data.jsonl:3:" in message and words in message
    assert len(info.value.problems) == 1


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_lenient_mode_skips_the_row_and_reports_it(tmp_path, case):
    line, words = BAD_LINES[case]
    data = load_data(_file(tmp_path, line), strict=False)
    assert len(data.rows) == 3 and data.total == 4
    (problem,) = data.problems
    assert problem.where == "data.jsonl:3" and problem.line == 3 and words in str(problem)
    assert problem.fix  # every problem says what to do


def test_non_utf8_bytes_are_located(tmp_path):
    bad = json.dumps(_msgs(("user", "caf"), ("assistant", "x"))).encode().replace(b"caf", b"caf\xe9")
    with pytest.raises(DataError, match=r"data.jsonl:3: is not valid UTF-8 \(byte 0xE9 at column \d+\).*iconv"):
        load_data(_file(tmp_path, bad))
    csv = tmp_path / "d.csv"
    csv.write_bytes(b"text,label\nfine,a\nna\xefve,b\n")
    with pytest.raises(DataError, match="d.csv:3: is not valid UTF-8"):
        load_data(str(csv))


def test_wrong_top_level_type_of_a_json_file(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"data": [GOOD]}), encoding="utf-8")
    with pytest.raises(DataError, match=r"d.json:1: the top level is a JSON object.*under the key 'data'"):
        load_data(str(path))
    path.write_text("[" + json.dumps(GOOD) + ",\n 42]", encoding="utf-8")
    with pytest.raises(DataError, match="d.json:2: is a JSON number, not an object"):
        load_data(str(path))


def test_csv_row_with_extra_fields(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\nok,a\nnot, quoted,b\n", encoding="utf-8")
    with pytest.raises(DataError, match="d.csv:3: has 3 fields but the header has 2"):
        load_data(str(path))


def test_classification_rows_with_empty_text_or_label(tmp_path):
    rows = [{"text": "fine", "label": "a"}, {"text": " ", "label": "a"}, {"text": "no label", "label": ""}]
    data = load_data(rows, strict=False)
    assert [(p.where, p.code) for p in data.problems] == [("row 1", "empty-content"), ("row 2", "empty-content")]
    assert "field 'text' is empty" in str(data.problems[0]) and "field 'label' is empty" in str(data.problems[1])


def test_strict_reports_the_first_problem_in_file_order(tmp_path):
    path = tmp_path / "d.jsonl"
    lines = [json.dumps(GOOD), json.dumps(_msgs(("robot", "hi"), ("assistant", "x"))), "{broken"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="d.jsonl:2: message 0 has the unknown role 'robot'"):
        load_data(str(path))
    assert [p.line for p in load_data(str(path), strict=False).problems] == [2, 3]


def test_a_source_that_cannot_be_used_at_all(tmp_path):
    with pytest.raises(DataError, match="does not exist.*support-emails"):
        load_data(str(tmp_path / "none.jsonl"))
    (tmp_path / "d.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(DataError, match="unknown file type '.txt'"):
        load_data(str(tmp_path / "d.txt"))
    (tmp_path / "bad.jsonl").write_text("{oops\n", encoding="utf-8")
    with pytest.raises(DataError, match="bad.jsonl:1: invalid JSON"):
        load_data(str(tmp_path / "bad.jsonl"), strict=False)  # lenient, but nothing at all is usable
