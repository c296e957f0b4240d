"""`ft-jupyter data check|convert|lengths|mask`: exit 0 when usable, 2 when not; convert writes only valid input."""

import json

import pytest

from ft_jupyter.cli import main


def test_check_on_the_clean_set_exits_0(capsys):
    assert main(["data", "check", "support-emails"]) == 0
    out = capsys.readouterr().out
    assert "format classification" in out and "Validation problems (0)" in out and "Verdict: clean." in out


def test_check_on_the_dirty_twin_lists_located_problems_and_exits_2(capsys):
    assert main(["data", "check", "support-emails-dirty", "--limit", "100"]) == 2
    out = capsys.readouterr().out
    assert "364 rows, 345 usable; 19 rejected" in out
    assert "support_emails_dirty.jsonl:131  invalid JSON" in out
    assert "support_emails_dirty.jsonl:218  is a JSON string, not an object" in out
    assert "Exact duplicates" in out and "line 228" in out and "Not usable as it is" in out
    assert main(["data", "check", "support-emails-dirty", "--lenient"]) == 0


def test_check_json_output_is_machine_readable(capsys):
    assert main(["data", "check", "support-emails-dirty", "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["usable_rows"] == 345 and len(report["problems"]) == 19
    assert report["problems"][0] == {
        "where": "support_emails_dirty.jsonl:15",
        "what": "field 'label' is empty.",
        "fix": "Fill in the label or drop the row.",
        "code": "empty-content",
        "line": 15,
    }
    steps = {f["step"]: f["count"] for f in report["cleaning"]["findings"]}
    assert steps["exact-duplicates"] == 25 and steps["contradictions"] == 20


def test_check_with_mapped_csv_columns(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text("body,category\n" + "".join(f"mail {i},{'ab'[i % 2]}\n" for i in range(12)), encoding="utf-8")
    assert main(["data", "check", str(path)]) == 2  # no known columns
    assert "data.columns" in capsys.readouterr().err
    assert main(["data", "check", str(path), "--columns", "body=text,category=label"]) == 0
    assert "12 usable" in capsys.readouterr().out


def test_convert_writes_valid_input_and_round_trips(tmp_path, capsys):
    src = tmp_path / "alpaca.jsonl"
    rows = [{"instruction": "Classify", "input": f"mail {i}", "output": "question"} for i in range(3)]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["data", "convert", str(src), "--to", "messages", "-o", str(tmp_path / "m.jsonl")]) == 0
    messages = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert messages[0]["messages"][0] == {"role": "user", "content": "Classify\n\nmail 0"}
    assert main(["data", "convert", str(tmp_path / "m.jsonl"), "--to", "alpaca", "-o", str(tmp_path / "a.json")]) == 0
    assert json.loads((tmp_path / "a.json").read_text()) == rows
    assert "Wrote 3 rows" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["{not json", json.dumps({"messages": [{"role": "user", "content": "hi"}]})])
def test_convert_writes_nothing_when_input_is_rejected(tmp_path, capsys, bad):
    src = tmp_path / "in.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})
    src.write_text(good + "\n" + bad + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["data", "convert", str(src), "--to", "messages", "-o", str(out)]) == 2
    assert "in.jsonl:2" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == [src]


def test_multi_turn_rows_are_not_written_as_alpaca(tmp_path, capsys):
    src = tmp_path / "chat.jsonl"
    turns = [
        {"role": r, "content": c} for r, c in (("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "d"))
    ]
    src.write_text(json.dumps({"messages": turns}) + "\n", encoding="utf-8")
    assert main(["data", "convert", str(src), "--to", "alpaca", "-o", str(tmp_path / "a.jsonl")]) == 2
    assert "chat.jsonl:1: is a conversation of 4 messages" in capsys.readouterr().err
    assert not (tmp_path / "a.jsonl").exists()


def test_lengths_and_mask_with_the_tiny_model(tiny_tokenizer_path, capsys):
    pytest.importorskip("trl")
    assert main(["data", "lengths", "support-emails", "--model", "tiny-random", "--max-seq-len", "64"]) == 0
    out = capsys.readouterr().out
    assert "Recommended max_seq_len" in out and "With max_seq_len 64" in out
    assert main(["data", "mask", "support-emails", "--model", "tiny-random", "--row", "3"]) == 0
    out = capsys.readouterr().out
    assert "support_emails.jsonl:4" in out and "tokens carry loss" in out and "[[" in out
    assert main(["data", "mask", "support-emails", "--model", "tiny-random", "--max-seq-len", "16"]) == 2
    assert "All labels are -100" in capsys.readouterr().out


def test_checking_a_big_file_shows_progress_on_stderr_and_a_small_one_stays_quiet(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FT_JUPYTER_PROGRESS", raising=False)
    path = tmp_path / "big.jsonl"
    labels = ("billing", "question", "feedback")
    path.write_text(
        "".join(
            json.dumps({"text": f"mail number {i} about my order", "label": labels[i % 3]}) + "\n" for i in range(6000)
        ),
        encoding="utf-8",
    )
    assert main(["data", "check", str(path), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["usable_rows"] == 6000
    assert "Cleaning report" in captured.err and "6000/6000 rows" in captured.err and "ETA" in captured.err
    assert main(["data", "check", "support-emails", "--json"]) == 0
    assert capsys.readouterr().err == ""
