"""Token-length statistics: exact numbers on known lengths, and real counts with the tiny-random tokenizer."""

import pytest

from ft_jupyter.data.lengths import LengthStats, RowLength, percentile, truncation_warning


def _stats(train, test=()):
    row = lambda n: RowLength("r", n, n - 3, n)  # noqa: E731  (the answer is the last three tokens)
    return LengthStats({"train": [row(n) for n in train], "test": [row(n) for n in test]})


def test_percentiles_histogram_and_truncation_on_known_lengths():
    stats = _stats(range(1, 101), [50, 150])
    assert percentile(list(range(1, 101)), 50) == 50 and percentile([7], 99) == 7
    assert stats.percentiles("train") == {"min": 1, "p50": 50, "p90": 90, "p95": 95, "p99": 99, "max": 100}
    assert stats.percentiles()["max"] == 150
    hist = stats.histogram(bins=3)
    assert hist["edges"] == [1, 51, 101, 151]
    assert hist["counts"] == {"train": [50, 50, 0], "test": [1, 0, 1]}
    assert stats.truncated(98)["train"] == {"truncated": 2, "answer_cut": 2, "no_loss_left": 0}
    assert stats.truncated(96)["test"] == {"truncated": 1, "answer_cut": 1, "no_loss_left": 1}
    assert "With max_seq_len 96: 5 rows truncated, 5 lose part of their answer, 3 lose all of it" in stats.to_text(96)


def test_recommendation_fits_the_data_unless_a_few_outliers_dominate():
    assert _stats([40, 60, 70]).recommend() == 96  # longest row 70, rounded up to a multiple of 32
    assert _stats([10] * 200 + [30]).recommend() == 32
    # 1 row in 300 is 5x longer than the rest: cap at the 99th percentile instead of paying for it.
    assert _stats([100] * 299 + [500]).recommend() == 128


def test_truncation_warning_speaks_only_when_answers_are_cut():
    stats = _stats([50, 60, 200])
    assert truncation_warning(stats, 256) == ""
    warning = truncation_warning(stats, 100)
    assert "cuts the answer of 1 training rows (1 lose all of it" in warning and "224 tokens" in warning


def test_real_counts_with_the_tiny_tokenizer(tiny_tokenizer):
    pytest.importorskip("trl")
    from ft_jupyter.data.lengths import length_stats
    from ft_jupyter.data.prepare import Example

    rows = [
        Example(({"role": "user", "content": "hi " * n}, {"role": "assistant", "content": "question"}))
        for n in (1, 5, 20)
    ]
    stats = length_stats(tiny_tokenizer, {"train": rows}, tiny_tokenizer.chat_template)
    expected = [
        len(tiny_tokenizer.apply_chat_template(list(r.messages), tokenize=True, return_dict=True)["input_ids"])
        for r in rows
    ]
    assert stats.lengths("train") == expected and expected[0] < expected[1] < expected[2]
    answer = stats.splits["train"][0]
    assert answer.answer_end - answer.answer_start == len(tiny_tokenizer("question<|im_end|>")["input_ids"])
