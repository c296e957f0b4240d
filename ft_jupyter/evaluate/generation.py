"""Batched greedy generation with the chat template, as the model will be used after training.

Prompts that all start with the same long stretch of tokens (a system prompt and worked examples: the prompted
baseline) share it: its keys and values are computed once and every row continues from a copy, so each row costs
only its own tokens. Rows are batched by equal length there, so no row is padded and each answer is the one the
row would get alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def generate_answers(
    model: Any,
    tokenizer: Any,
    prompts: list[list[dict[str, str]]],
    *,
    max_new_tokens: int = 16,
    batch_size: int = 16,
    desc: str = "Generating",
    progress: bool | None = None,
) -> list[str]:
    """Greedy answers to each conversation prompt (messages up to, not including, the assistant turn), in the order
    given; a progress bar labelled `desc` counts the rows (progress=False hides it)."""
    from ft_jupyter.progress import progress_bar

    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    answers = [""] * len(texts)
    ids = [list(row) for row in tokenizer(texts, add_special_tokens=False)["input_ids"]] if texts else []
    shared = shared_prefix_length(ids)
    was_training = model.training
    model.eval()
    try:
        # Decoder-only models continue from the right edge: pad on the left.
        with padding_on(tokenizer, "left"), progress_bar(len(texts), desc, unit="rows", progress=progress) as bar:
            if shared:
                _generate_after_prefix(model, tokenizer, ids, shared, max_new_tokens, batch_size, answers, bar)
                return answers
            for batch in _by_length([len(row) for row in ids], batch_size):
                generated = _generate(model, tokenizer, [texts[i] for i in batch], max_new_tokens)
                for i, answer in zip(batch, generated, strict=True):
                    answers[i] = answer
                bar.update(len(batch))
    finally:
        if was_training:
            model.train()
    return answers


@contextmanager
def padding_on(tokenizer: Any, side: str) -> Iterator[Any]:
    """The tokenizer pads on `side` ("left" to generate, "right" to score) inside the block, as before after it."""
    before = tokenizer.padding_side
    tokenizer.padding_side = side
    try:
        yield tokenizer
    finally:
        tokenizer.padding_side = before


def length_batches(tokenizer: Any, texts: list[str], batch_size: int) -> list[list[int]]:
    """Indices of `texts` in batches of similar token length, longest first.

    Similar lengths mean little padding, and the answers stay those of one-by-one generation: with left padding and
    the attention mask a row never sees its neighbours. Longest first so that a batch too big for memory fails at
    once, and the ETA errs long rather than short.
    """
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]] if texts else []
    return _by_length(lengths, batch_size)


def _by_length(lengths: list[int], batch_size: int) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])  # stable: equal lengths keep their order
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def _generate(model: Any, tokenizer: Any, texts: list[str], max_new_tokens: int) -> list[str]:
    import torch

    enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    with torch.inference_mode():
        out = model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    new_tokens = out[:, enc["input_ids"].shape[1] :]
    return [t.strip() for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]


# Sharing pays when the common part is long and most of each prompt (few-shot prompts: ~400 of ~470 tokens).
SHARED_PREFIX_MIN_TOKENS = 64
SHARED_PREFIX_MIN_SHARE = 0.5


def shared_prefix_length(ids: list[list[int]]) -> int:
    """Tokens every prompt starts with, when worth computing once (else 0); one token is always left to each row so
    that generation has an input to continue from."""
    if len(ids) < 2:
        return 0
    first, n = ids[0], min(len(row) for row in ids) - 1
    for row in ids[1:]:
        n = next((k for k in range(n) if row[k] != first[k]), n)
    mean = sum(len(row) for row in ids) / len(ids)
    return n if n >= SHARED_PREFIX_MIN_TOKENS and n >= SHARED_PREFIX_MIN_SHARE * mean else 0


def _generate_after_prefix(
    model: Any,
    tokenizer: Any,
    ids: list[list[int]],
    shared: int,
    max_new_tokens: int,
    batch_size: int,
    answers: list[str],
    bar: Any,
) -> None:
    import copy

    import torch
    from transformers import DynamicCache

    name = _cache_argument()
    prefix = DynamicCache()
    with torch.inference_mode():
        model(input_ids=torch.tensor([ids[0][:shared]], device=model.device), use_cache=True, **{name: prefix})
        for batch in _equal_length_batches(ids, batch_size):
            cache = copy.deepcopy(prefix)
            if len(batch) > 1:
                cache.batch_repeat_interleave(len(batch))
            rows = torch.tensor([ids[i] for i in batch], device=model.device)
            out = model.generate(
                input_ids=rows,
                attention_mask=torch.ones_like(rows),
                **{name: cache},
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            decoded = tokenizer.batch_decode(out[:, rows.shape[1] :], skip_special_tokens=True)
            for i, text in zip(batch, decoded, strict=True):
                answers[i] = text.strip()
            bar.update(len(batch))


def _cache_argument() -> str:
    """The keyword that hands a cache to forward() and generate(): transformers 5.24 renamed past_key_values to cache
    (the old name still works there, but warns on every call)."""
    import transformers
    from packaging.version import Version

    return "cache" if Version(transformers.__version__) >= Version("5.24.0") else "past_key_values"


def _equal_length_batches(ids: list[list[int]], batch_size: int) -> list[list[int]]:
    """Indices grouped by token length (longest first), at most batch_size a group: equal lengths need no padding."""
    by_length: dict[int, list[int]] = {}
    for i, row in enumerate(ids):
        by_length.setdefault(len(row), []).append(i)
    return [
        group[k : k + batch_size]
        for length in sorted(by_length, reverse=True)
        for group in [by_length[length]]
        for k in range(0, len(group), batch_size)
    ]
