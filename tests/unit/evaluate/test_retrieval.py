"""The retrieval rung's examples: the training rows most alike the question by BM25, never a row whose prompt is
in the test split, k of them, the most similar nearest the question."""

from __future__ import annotations

import pytest

from ft_jupyter.config import ConfigError
from ft_jupyter.data.prepare import Example
from ft_jupyter.evaluate.prompting import prompted_messages
from ft_jupyter.evaluate.retrieval import ShotRetriever, words


def _row(question: str, label: str) -> Example:
    return Example(({"role": "user", "content": question}, {"role": "assistant", "content": label}), label)


TRAIN = [
    _row("My invoice shows a double charge for March", "billing"),
    _row("Refund the duplicate charge on my invoice please", "billing"),
    _row("The app crashes when I open settings", "bug"),
    _row("Login page crashes after the update", "bug"),
    _row("Can you add a dark mode to the dashboard", "feature"),
    _row("Please add export to CSV in the dashboard", "feature"),
]


def test_the_nearest_rows_by_shared_words_come_back_most_similar_last():
    retriever = ShotRetriever(TRAIN, [], k=2)
    shots = retriever.shots(_row("Why was my invoice charged twice, a duplicate charge?", "?"))
    assert [s.label for s in shots] == ["billing", "billing"]
    assert shots[-1].prompt[0]["content"].startswith("Refund the duplicate charge")  # shares the most words
    assert [s.label for s in retriever.shots(_row("it crashes when I open the login page", "?"))] == ["bug", "bug"]


def test_rows_whose_prompt_is_in_the_test_split_are_never_examples():
    test = [TRAIN[0]]
    retriever = ShotRetriever(TRAIN, test, k=6)
    shots = retriever.shots(TRAIN[0])
    assert TRAIN[0] not in shots and len(shots) == 5


def test_k_zero_gives_no_examples_and_an_empty_pool_is_a_clear_error():
    assert ShotRetriever(TRAIN, [], k=0).shots(TRAIN[0]) == []
    with pytest.raises(ConfigError, match="retrieval=False"):
        ShotRetriever(TRAIN[:1], TRAIN[:1], k=2)


def test_the_prompt_carries_the_retrieved_rows_as_turns_before_the_question():
    question = _row("dark mode for the dashboard?", "?")
    shots = ShotRetriever(TRAIN, [], k=1).shots(question)
    messages = prompted_messages(question, shots, "Label it.")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == "feature" and messages[-1]["content"] == "dark mode for the dashboard?"


def test_words_are_lower_case_words_and_numbers():
    assert words("Invoice #42: DOUBLE-charged!") == ["invoice", "42", "double", "charged"]
