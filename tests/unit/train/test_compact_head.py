"""The compact LM head replaces the model's forward on the default training path and claims the same loss and the
same gradients: checked here against the standard transformers path on a tiny random model of every architecture it
is enabled for, plain and under LoRA, and checked off where the head is not a plain projection."""

import pytest
import torch

from ft_jupyter.train.trainer import COMPACT_HEAD_MODELS, install_compact_head

SIZES = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
             vocab_size=101, max_position_embeddings=64, pad_token_id=0, bos_token_id=1, eos_token_id=2)


def _tiny(model_type: str, seed: int = 0):
    from transformers import AutoConfig, AutoModelForCausalLM

    extra = {"head_dim": 8} if model_type in ("qwen3", "olmo2", "smollm3") else {}
    config = AutoConfig.for_model(model_type, **SIZES, **extra, tie_word_embeddings=False)
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(config).float().train()


def _batch():
    torch.manual_seed(1)
    ids = torch.randint(3, 101, (3, 12))
    mask = torch.ones_like(ids)
    mask[1, :4] = 0                      # left padding on one row
    labels = ids.clone()
    labels[:, :7] = -100                 # prompt positions carry no loss (assistant-only)
    labels[mask == 0] = -100
    labels[2, 9] = -100                  # a hole inside an answer
    return ids, mask, labels


def _loss_and_grads(model, **kwargs):
    model.zero_grad()
    ids, mask, labels = _batch()
    loss = model(input_ids=ids, attention_mask=mask, labels=labels, **kwargs).loss
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), grads


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
@pytest.mark.parametrize("model_type", COMPACT_HEAD_MODELS)
@pytest.mark.parametrize("num_items", [None, 17])
def test_compact_head_gives_the_same_loss_and_gradients(model_type, lora, num_items):
    model = _tiny(model_type)
    if lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", lora_dropout=0.0,
                                                 init_lora_weights=False))
    extra = {} if num_items is None else {"num_items_in_batch": torch.tensor(num_items)}
    standard_loss, standard_grads = _loss_and_grads(model, **extra)
    assert install_compact_head(model)
    compact_loss, compact_grads = _loss_and_grads(model, compact_lm_head=True, **extra)
    torch.testing.assert_close(compact_loss, standard_loss, rtol=1e-5, atol=1e-6)
    assert compact_grads.keys() == standard_grads.keys() and compact_grads
    for name, grad in standard_grads.items():
        torch.testing.assert_close(compact_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    # Without the flag the forward is the model's own: logits for generation and evaluation are untouched.
    ids, mask, _ = _batch()
    assert model(input_ids=ids, attention_mask=mask).logits.shape == (3, 12, 101)


@pytest.mark.parametrize("model_type", ["gemma2", "cohere", "qwen2_moe"])
def test_compact_head_stays_off_where_the_head_is_not_a_plain_projection(model_type):
    """Gemma 2 soft-caps its logits, Cohere scales them, MoE models add a router loss: a plain projection and
    cross-entropy would train a different objective, so these keep the standard path."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model(model_type, **SIZES, head_dim=8)
    model = AutoModelForCausalLM.from_config(config)
    forward = model.forward
    assert model_type not in COMPACT_HEAD_MODELS
    assert install_compact_head(model) is False and model.forward == forward
