"""Batched greedy generation with the chat template, as the model will be used after training."""

from __future__ import annotations

from typing import Any


def generate_answers(model: Any, tokenizer: Any, prompts: list[list[dict[str, str]]], *, max_new_tokens: int = 16,
                     batch_size: int = 16, desc: str = "Generating", progress: bool | None = None) -> list[str]:
    """Greedy answers to each conversation prompt (messages up to, not including, the assistant turn), in the order
    given; a progress bar labelled `desc` counts the rows (progress=False hides it)."""
    from ft_jupyter.progress import progress_bar

    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    answers = [""] * len(texts)
    was_training = model.training
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
    try:
        with progress_bar(len(texts), desc, unit="rows", progress=progress) as bar:
            for batch in length_batches(tokenizer, texts, batch_size):
                for i, answer in zip(batch, _generate(model, tokenizer, [texts[i] for i in batch], max_new_tokens)):
                    answers[i] = answer
                bar.update(len(batch))
    finally:
        tokenizer.padding_side = side
        if was_training:
            model.train()
    return answers


def length_batches(tokenizer: Any, texts: list[str], batch_size: int) -> list[list[int]]:
    """Indices of `texts` in batches of similar token length, longest first.

    Similar lengths mean little padding, and the answers stay those of one-by-one generation: with left padding and
    the attention mask a row never sees its neighbours. Longest first so that a batch too big for memory fails at
    once, and the ETA errs long rather than short.
    """
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]] if texts else []
    order = sorted(range(len(texts)), key=lambda i: -lengths[i])  # stable: equal lengths keep their order
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def _generate(model: Any, tokenizer: Any, texts: list[str], max_new_tokens: int) -> list[str]:
    import torch

    enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    new_tokens = out[:, enc["input_ids"].shape[1]:]
    return [t.strip() for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
