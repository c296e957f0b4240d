"""Token counts of every training and validation row as training renders them: the rows the data step prepares,
general text mixed in, each rendered with the model's training chat template and tokenized (or approximated from
characters when no tokenizer for the model is here). The time forecast and the throughput probe count with these.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ft_jupyter.config import ConfigError, RunConfig


@dataclass(frozen=True)
class DataTokens:
    train: tuple[int, ...]  # tokens of each training row (general-text rows mixed in included), uncut
    answer_starts: tuple[int, ...]  # where each training row's loss begins (0 without assistant-only loss)
    validation: tuple[int, ...]
    exact: bool  # False: approximated from characters (no tokenizer for this model here)

    def kept(self, max_seq_len: int) -> list[int]:
        """Tokens of the rows training keeps, cut at max_seq_len: a row whose answer starts past the cut has no
        loss left and the trainer drops it."""
        return [
            min(n, max_seq_len) for n, start in zip(self.train, self.answer_starts, strict=True) if start < max_seq_len
        ]


_TOKENS: dict[tuple, DataTokens] = {}
_TOKENS_LOCK = threading.Lock()


def data_tokens(config: RunConfig) -> DataTokens:
    """Token counts of every training and validation row as training renders them. Cached per data and model."""
    t = config.training
    key = (config.model, config.data, t.seed, t.assistant_only_loss)
    with _TOKENS_LOCK:
        if key in _TOKENS:
            return _TOKENS[key]
    from ft_jupyter.data.mixing import mix_general_text
    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.models.estimate import _approx_tokens
    from ft_jupyter.models.loading import local_tokenizer

    data = prepare(config.data, seed=t.seed, progress=False)
    train, _ = mix_general_text(data.train, config.data, seed=t.seed)
    tokenizer = local_tokenizer(config.model)
    if tokenizer is not None and tokenizer.chat_template:
        from ft_jupyter.data.lengths import length_stats

        stats = length_stats(
            tokenizer,
            {"train": train, "validation": data.validation},
            _training_template(tokenizer, train, t.assistant_only_loss),
            progress=False,
        )
        starts = tuple(r.answer_start for r in stats.splits["train"]) if t.assistant_only_loss else (0,) * len(train)
        found = DataTokens(tuple(stats.lengths("train")), starts, tuple(stats.lengths("validation")), True)
    else:
        starts = tuple(_approx_tokens(_prompt(e.messages)) if t.assistant_only_loss else 0 for e in train)
        found = DataTokens(
            tuple(_approx_tokens(e.messages) for e in train),
            starts,
            tuple(_approx_tokens(e.messages) for e in data.validation),
            False,
        )
    with _TOKENS_LOCK:
        _TOKENS[key] = found
    return found


def _prompt(messages) -> list:
    """The messages before the first answer: what precedes the first loss-carrying token."""
    roles = [m["role"] for m in messages]
    return list(messages[: roles.index("assistant")]) if "assistant" in roles else list(messages)


def _training_template(tokenizer, train, assistant_only_loss: bool) -> str | None:
    from ft_jupyter.data.preflight import TEMPLATE_SAMPLE
    from ft_jupyter.data.templates import training_template

    if not assistant_only_loss:
        return None
    try:
        return training_template(tokenizer, [e.messages for e in train[:TEMPLATE_SAMPLE]]).template
    except ConfigError:  # training would stop on this with its own message; the model's template counts the same
        return None
