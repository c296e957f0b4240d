"""The retrieval-augmented few-shot baseline: for each question, the k training rows whose prompts are most alike
(BM25 over their words) as the worked examples, instead of one fixed set for every question.

It is the strongest cheap fix before fine-tuning: no training, but every request carries k examples, so it pays in
prompt tokens on every call. Like the fixed few-shot prompt, it draws only from the training split and skips any
row whose prompt also occurs in the test split.
"""

from __future__ import annotations

import re

from ft_jupyter.config import ConfigError
from ft_jupyter.data.prepare import Example
from ft_jupyter.evaluate.prompting import prompt_key

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-cased words and numbers: what BM25 matches on."""
    return _WORD.findall(text.lower())


class ShotRetriever:
    """BM25 (rank-bm25's Okapi variant) over the training rows' prompts."""

    def __init__(self, train: list[Example], test: list[Example], k: int):
        from rank_bm25 import BM25Okapi

        unseen = {prompt_key(e) for e in test}
        self.pool = [e for e in train if prompt_key(e) not in unseen and len(e.messages) >= 2]
        if k > 0 and not self.pool:
            raise ConfigError(
                "No training rows to retrieve examples from (all of them also occur in the test "
                "split); add training data or turn retrieval off (retrieval=False)."
            )
        self.k = k
        self._index = BM25Okapi([words(prompt_key(e)) or ["_"] for e in self.pool]) if self.pool else None

    def shots(self, example: Example) -> list[Example]:
        """The k most similar training rows, the most similar last (nearest the question in the prompt)."""
        if self.k <= 0 or self._index is None:
            return []
        scores = self._index.get_scores(words(prompt_key(example)))
        order = sorted(range(len(self.pool)), key=lambda i: (-scores[i], i))[: self.k]
        return [self.pool[i] for i in reversed(order)]
