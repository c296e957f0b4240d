"""The Fisher information EWC weighs weights with, and its penalty, on the tiny model (no training)."""

import pytest
import torch


@pytest.fixture(scope="module")
def model_and_tokenizer():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ft_jupyter.models.tiny import ensure_tiny_random

    folder = ensure_tiny_random()
    return AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)


TEXTS = ["Electricity in most homes is alternating current.", "Bread rises because yeast makes gas."]


def test_fisher_is_per_trainable_weight_non_negative_with_mean_one_and_leaves_the_model_as_it_was(
    model_and_tokenizer,
):
    from ft_jupyter.train.ewc import fisher_diagonal

    model, tokenizer = model_and_tokenizer
    frozen = "model.layers.0.mlp.up_proj.weight"
    model.get_parameter(frozen).requires_grad_(False)
    model.train()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    try:
        fisher = fisher_diagonal(model, tokenizer, TEXTS, max_tokens=64)
    finally:
        model.get_parameter(frozen).requires_grad_(True)
    assert frozen not in fisher and "model.layers.0.mlp.down_proj.weight" in fisher
    values = torch.cat([f.flatten() for f in fisher.values()])
    assert (values >= 0).all() and values.mean().item() == pytest.approx(1.0, rel=1e-4)
    assert values.max() > 50 * values.median()  # some weights matter far more than most: that is the point
    assert model.training and all(p.grad is None for p in model.parameters())
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())


def test_one_text_gives_its_own_squared_gradient(model_and_tokenizer):
    from ft_jupyter.train.ewc import fisher_diagonal

    model, tokenizer = model_and_tokenizer
    ids = tokenizer(TEXTS[0], return_tensors="pt")["input_ids"]
    model.zero_grad()
    model(input_ids=ids, labels=ids).loss.backward()
    squared = {n: p.grad.pow(2) for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    scale = sum(s.numel() for s in squared.values()) / sum(float(s.sum()) for s in squared.values())
    fisher = fisher_diagonal(model, tokenizer, TEXTS[:1], max_tokens=64)
    name = "model.layers.1.self_attn.q_proj.weight"
    assert torch.allclose(fisher[name], squared[name] * scale, rtol=1e-4, atol=1e-8)


def test_the_penalty_is_zero_at_the_start_and_fisher_weighted_away_from_it():
    from ft_jupyter.train.ewc import ewc_penalty

    layer = torch.nn.Linear(2, 1, bias=False)
    start = {"weight": layer.weight.detach().clone()}
    fisher = {"weight": torch.tensor([[3.0, 0.0]])}
    assert ewc_penalty(layer, start, fisher).item() == 0.0
    with torch.no_grad():
        layer.weight += torch.tensor([[0.5, 10.0]])  # the weight F says nothing about moves freely
    assert ewc_penalty(layer, start, fisher).item() == pytest.approx(3.0 * 0.25)


def test_text_that_moves_nothing_is_refused_with_what_to_do(model_and_tokenizer):
    from ft_jupyter.train.ewc import fisher_diagonal

    model, tokenizer = model_and_tokenizer
    for p in model.parameters():
        p.requires_grad_(False)
    model.lm_head.weight.requires_grad_(True)  # tied to the embeddings; a one-token text has no next token
    try:
        with pytest.raises(ValueError, match="zero gradient.*l2_to_init"):
            fisher_diagonal(model, tokenizer, ["a"], max_tokens=1)
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
