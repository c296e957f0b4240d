"""Batched greedy generation with the chat template, as the model will be used after training."""

from __future__ import annotations

from typing import Any


def generate_answers(model: Any, tokenizer: Any, prompts: list[list[dict[str, str]]], *, max_new_tokens: int = 16,
                     batch_size: int = 16) -> list[str]:
    """Greedy answers to each conversation prompt (messages up to, not including, the assistant turn)."""
    import torch

    was_training = model.training
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
    answers: list[str] = []
    try:
        for start in range(0, len(prompts), batch_size):
            batch = prompts[start:start + batch_size]
            texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in batch]
            enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            with torch.inference_mode():
                out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                     pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            new_tokens = out[:, enc["input_ids"].shape[1]:]
            answers += [t.strip() for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
    finally:
        tokenizer.padding_side = side
        if was_training:
            model.train()
    return answers
