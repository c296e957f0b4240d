"""Cleaning findings counted on crafted data and on the bundled dirty twin; dropping is explicit and counted."""

import pytest

from ft_jupyter.config import ConfigError
from ft_jupyter.data.cleaning import apply_cleaning, clean_report, normalise
from ft_jupyter.data.load import load_data


def _row(prompt, answer):
    return {"instruction": prompt, "input": "", "output": answer}


CRAFTED = [
    _row("Where is my parcel?", "question"),  # 0
    _row("Where is my parcel?", "question"),  # 1 exact duplicate of 0
    _row("where is my  parcel", "question"),  # 2 near-duplicate of 0
    _row("Where is my parcel?", "question"),  # 3 exact duplicate of 0
    _row("The app crashes on start.", "bug"),  # 4
    _row("The app crashes on start.", "feedback"),  # 5 contradicts 4
    _row("I love the new look", "."),  # 6 near-empty answer
    _row("Refund me now", "complaint"),  # 7
    _row("Refund me NOW!", "complaint"),  # 8 near-duplicate of 7
    _row("x " * 1500, "long"),  # 9 length outlier (3,000 chars vs a median of ~30)
]


@pytest.fixture()
def report():
    data = load_data(CRAFTED)
    return clean_report(data.rows, data.labels)


def test_normalisation_ignores_case_punctuation_and_spacing():
    assert normalise("Where is  my\tParcel?!") == normalise("where is my parcel") == "where is my parcel"


def test_crafted_findings_are_counted(report):
    counts = {step: f.count for step, f in report.findings.items()}
    assert counts == {
        "exact-duplicates": 2,
        "near-duplicates": 2,
        "contradictions": 2,
        "empty-answers": 1,
        "rare-labels": 0,
        "length-outliers": 1,
    }
    assert report.findings["exact-duplicates"].groups == ((0, 1, 3),)
    assert set(report.findings["near-duplicates"].groups) == {(0, 2), (7, 8)}
    assert report.findings["contradictions"].groups == ((4, 5),)
    assert not report.is_clean
    text = report.to_text()
    assert "Exact duplicates" in text and "row 1" in text and "data.drop: [contradictions]" in text


def test_dropping_is_explicit_and_counted_step_by_step(report):
    assert len(apply_cleaning(report, []).rows) == len(CRAFTED)
    result = apply_cleaning(
        report, ["near-duplicates", "exact-duplicates", "contradictions", "empty-answers", "length-outliers"]
    )
    assert result.removed == {
        "exact-duplicates": 2,
        "near-duplicates": 2,
        "contradictions": 2,
        "empty-answers": 1,
        "length-outliers": 1,
    }
    assert [r.where for r in result.rows] == ["row 0", "row 7"]
    assert "removed 8 rows" in result.to_text()
    with pytest.raises(ConfigError, match="Unknown cleaning steps"):
        apply_cleaning(report, ["duplicates"])


def test_warnings_name_rows_and_the_setting_that_drops_them(report):
    warnings = report.warnings(dropped=("exact-duplicates",))
    assert not any("Exact duplicates" in w for w in warnings)
    contradiction = next(w for w in warnings if w.startswith("Contradictions"))
    assert "row 4, row 5" in contradiction and "'contradictions' to data.drop" in contradiction


def test_rare_labels_suggest_the_label_they_resemble():
    rows = [
        {"text": f"email {i}", "label": lab}
        for i, lab in enumerate(["billing"] * 30 + ["question"] * 30 + ["billings", "Question"])
    ]
    data = load_data(rows)
    report = clean_report(data.rows, data.labels)
    rare = report.findings["rare-labels"]
    assert rare.count == 2 and "'billings' (1x) looks like 'billing'" in rare.advice
    assert "'Question' (1x) looks like 'question'" in rare.advice
    assert report.imbalance == 1.0  # rare labels are a finding of their own, not "imbalance"


def test_the_dirty_twin_yields_an_actionable_report():
    data = load_data("support-emails-dirty", strict=False)
    codes = [p.code for p in data.problems]
    assert data.total == 364 and len(data.problems) == 19
    assert codes.count("invalid-json") == 3 and codes.count("wrong-type") == 1
    assert codes.count("empty-content") == 13 and codes.count("too-long") == 2
    report = clean_report(data.rows, data.labels)
    counts = {step: f.count for step, f in report.findings.items()}
    assert counts == {
        "exact-duplicates": 25,
        "near-duplicates": 15,
        "contradictions": 20,
        "empty-answers": 0,
        "rare-labels": 3,
        "length-outliers": 0,
    }
    cleaned = apply_cleaning(report, ["exact-duplicates", "near-duplicates", "contradictions", "rare-labels"])
    assert len(cleaned.rows) == 282  # README: 292 untouched rows minus the 10 originals of the contradictions
    assert {r.label for r in cleaned.rows} == {"billing", "bug_report", "complaint", "feedback", "question"}


def test_the_clean_set_has_no_finding_and_no_warning():
    data = load_data("support-emails")
    report = clean_report(data.rows, data.labels)
    assert data.total >= 650 and not data.problems
    assert report.is_clean and report.warnings() == []
    assert set(report.label_counts) == {"billing", "bug_report", "complaint", "feedback", "question"}
