import pytest

from ft_jupyter.evaluate.metrics import INVALID, classification_metrics, generation_metrics, token_f1

LABELS = ("billing", "bug_report", "question")


def test_classification_metrics_on_hand_made_predictions():
    gold = ["billing", "billing", "bug_report", "question", "question", "question"]
    pred = ["Billing.", "question", "bug report", "question", "I think it is a question", "question"]
    m = classification_metrics(pred, gold, LABELS)
    # 4 of 6 right: "I think it is a question" names no label, so it is invalid, not a lucky match.
    assert m.accuracy == pytest.approx(4 / 6)
    assert m.invalid_rate == pytest.approx(1 / 6)
    assert m.confusion["question"][INVALID] == 1 and m.confusion["billing"]["question"] == 1
    billing, question = m.per_class["billing"], m.per_class["question"]
    assert (billing.precision, billing.recall, billing.support) == (1.0, 0.5, 2)
    assert question.precision == pytest.approx(2 / 3) and question.recall == pytest.approx(2 / 3)
    assert m.per_class["bug_report"].f1 == 1.0
    expected_macro = (2 * 1.0 * 0.5 / 1.5 + 1.0 + 2 / 3) / 3
    assert m.macro_f1 == pytest.approx(expected_macro)
    assert m.correct == [True, False, True, True, False, True]


def test_a_label_never_predicted_counts_zero_in_macro_f1():
    m = classification_metrics(["billing", "billing"], ["billing", "question"], LABELS)
    assert m.per_class["question"].f1 == 0.0 and m.per_class["bug_report"].support == 0
    assert m.macro_f1 == pytest.approx((2 * 0.5 * 1.0 / 1.5) / 3)


def test_generation_metrics_on_hand_made_answers():
    refs = ["The parcel arrives on Monday.", "Reset it under Settings, then Account.", "Yes"]
    preds = ["the parcel arrives on monday", "Go to Account settings to reset it.", "No"]
    m = generation_metrics(preds, refs)
    assert [row["exact_match"] for row in m.per_example] == [1.0, 0.0, 0.0]
    assert m.exact_match == pytest.approx(1 / 3)
    assert m.per_example[0]["rouge_l"] == pytest.approx(1.0)
    assert 0.0 < m.per_example[1]["rouge_l"] < 1.0 and m.per_example[2]["rouge_l"] == 0.0
    assert m.rouge_l == pytest.approx(sum(r["rouge_l"] for r in m.per_example) / 3)


def test_token_f1_counts_shared_words():
    # pred: reset, it, under, settings; ref: reset, it, in, settings, now → 3 shared.
    assert token_f1("Reset it under Settings", "reset it in settings now") == pytest.approx(
        2 * (3 / 4) * (3 / 5) / (3 / 4 + 3 / 5)
    )
    assert token_f1("", "") == 1.0 and token_f1("x", "") == 0.0


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError):
        classification_metrics(["a"], ["a", "b"], LABELS)
    with pytest.raises(ValueError):
        generation_metrics(["a"], [])
