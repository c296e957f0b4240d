"""Elastic weight consolidation (EWC): a pull toward the starting weights, weighted by how much each one matters.

Before training, the diagonal of the Fisher information is estimated on general text: the mean over texts of the
squared gradient of that text's language-model loss, per weight. A weight with a large value changes what the model
says about general text when it moves; one near zero hardly does. The penalty λ·Σ F·(θ−θ₀)² then holds the first
kind in place and lets the second kind serve the new task. F is scaled to mean 1 over the trainable weights, so one
λ means the same average strength as the plain L2 pull (`training.l2_to_init`); only where the pull falls differs.
"""

from __future__ import annotations

import math

import torch


def fisher_diagonal(model, tokenizer, texts: list[str], max_tokens: int) -> dict[str, torch.Tensor]:
    """{name: F} for every trainable weight, F scaled to mean 1; one text per backward pass (per-text gradients)."""
    from ft_jupyter.progress import progress_bar

    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    squares = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params.items()}
    was_training = model.training
    model.eval()  # no dropout: the gradient of the model as it stands
    try:
        with progress_bar(len(texts), "EWC: Fisher information", unit="texts") as bar:
            for text in texts:
                ids = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_tokens)["input_ids"]
                ids = ids.to(next(iter(params.values())).device)
                model.zero_grad(set_to_none=True)
                model(input_ids=ids, labels=ids).loss.backward()
                for n, p in params.items():
                    if p.grad is not None:
                        squares[n] += p.grad.detach().float().pow(2)
                bar.update(1)
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    total = sum(float(s.sum()) for s in squares.values())
    count = sum(s.numel() for s in squares.values())
    if not math.isfinite(total):
        raise ValueError(
            "EWC: the Fisher information came out as inf/NaN (the model's loss on general text overflowed); "
            "load the model in float32 (model.dtype) or use training.l2_to_init instead."
        )
    if total == 0.0:
        raise ValueError(
            "EWC: general text gave a zero gradient on every trainable weight, so the Fisher information says "
            "nothing; check data.mix_dataset, or use training.l2_to_init instead."
        )
    scale = count / total
    return {n: s.mul_(scale).to(params[n].dtype) for n, s in squares.items()}


def ewc_penalty(model, initial: dict[str, torch.Tensor], fisher: dict[str, torch.Tensor]) -> torch.Tensor:
    """Σ F·(θ−θ₀)² over the trainable weights (multiply by λ)."""
    terms = [
        (fisher[n] * (p - initial[n]).pow(2)).sum()
        for n, p in model.named_parameters()
        if p.requires_grad and n in fisher
    ]
    return torch.stack(terms).sum() if terms else torch.zeros(())
