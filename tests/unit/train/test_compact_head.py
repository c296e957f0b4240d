"""The compact LM head replaces the model's forward on the default training path and claims the same loss and the
same gradients: checked here against the standard transformers path on a tiny random model of every architecture it
is enabled for (every weight training, with the head untied and tied to the embeddings, and under LoRA), against TRL's
own compute_loss through the trainer, and checked off where the head is not a plain projection and where a
prediction step wants the logits."""

import pytest
import torch

from ft_jupyter.models.architecture import COMPACT_HEAD_MODELS
from ft_jupyter.train.trainer import install_compact_head

SIZES = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=101,
    max_position_embeddings=64,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
)


def _tiny(model_type: str, tied: bool, seed: int = 0):
    from transformers import AutoConfig, AutoModelForCausalLM

    extra = {"head_dim": 8} if model_type in ("qwen3", "olmo2", "smollm3") else {}
    config = AutoConfig.for_model(model_type, **SIZES, **extra, tie_word_embeddings=tied)
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(config).float().train()


def _batch():
    torch.manual_seed(1)
    ids = torch.randint(3, 101, (3, 12))
    mask = torch.ones_like(ids)
    mask[1, :4] = 0  # left padding on one row
    labels = ids.clone()
    labels[:, :7] = -100  # prompt positions carry no loss (assistant-only)
    labels[mask == 0] = -100
    labels[2, 9] = -100  # a hole inside an answer
    return ids, mask, labels


def _with_lora(model):
    from peft import LoraConfig, get_peft_model

    # init_lora_weights=False: B is not zero, so the adapter changes the loss and every LoRA matrix gets a gradient.
    config = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", lora_dropout=0.0, init_lora_weights=False)
    return get_peft_model(model, config)


def _loss_and_grads(model, loss_of, *args, **kwargs):
    model.zero_grad()
    loss = loss_of(*args, **kwargs)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), grads


def _forward_loss(model, **kwargs):
    ids, mask, labels = _batch()
    return model(input_ids=ids, attention_mask=mask, labels=labels, **kwargs).loss


def _assert_same(compact, standard):
    (compact_loss, compact_grads), (standard_loss, standard_grads) = compact, standard
    torch.testing.assert_close(compact_loss, standard_loss, rtol=1e-5, atol=1e-6)
    assert compact_grads.keys() == standard_grads.keys() and compact_grads
    for name, grad in standard_grads.items():
        torch.testing.assert_close(compact_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)


# full: every weight trains, head untied; tied: the head's gradient joins the embedding's (tiny-random and SmolLM2
# tie them); lora: adapters on a tied model, the usual run.
@pytest.mark.parametrize("weights", ["full", "tied", "lora"])
@pytest.mark.parametrize("model_type", COMPACT_HEAD_MODELS)
@pytest.mark.parametrize("num_items", [None, 17])
def test_compact_head_gives_the_same_loss_and_gradients(model_type, weights, num_items):
    model = _tiny(model_type, tied=weights != "full")
    if weights == "lora":
        model = _with_lora(model)
    extra = {} if num_items is None else {"num_items_in_batch": torch.tensor(num_items)}
    standard = _loss_and_grads(model, _forward_loss, model, **extra)
    assert install_compact_head(model)
    _assert_same(_loss_and_grads(model, _forward_loss, model, compact_lm_head=True, **extra), standard)
    # Without the flag the forward is the model's own: logits for generation and evaluation are untouched.
    ids, mask, _ = _batch()
    assert model(input_ids=ids, attention_mask=mask).logits.shape == (3, 12, 101)


@pytest.mark.parametrize("lora", [False, True], ids=["plain", "lora"])
@pytest.mark.parametrize("model_type", ["gemma2", "cohere", "qwen2_moe"])
def test_compact_head_stays_off_where_the_head_is_not_a_plain_projection(model_type, lora):
    """Gemma 2 soft-caps its logits, Cohere scales them, MoE models add a router loss: a plain projection and
    cross-entropy would train a different objective, so these keep the standard path (under LoRA too, where the
    trainer sees a PEFT wrapper)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model(model_type, **SIZES, head_dim=8)
    model = AutoModelForCausalLM.from_config(config)
    forward = model.forward
    assert model_type not in COMPACT_HEAD_MODELS
    assert install_compact_head(_with_lora(model) if lora else model) is False and model.forward == forward


EMAILS = [
    ("My invoice for March shows the same charge twice, could you look into it and refund one?", "billing"),
    ("The app closes as soon as I open the settings page on my phone.", "bug"),
    ("Do you ship to Canada?", "question"),
    ("I was charged after cancelling my plan last week; please explain why this happened.", "billing"),
]


def test_the_trainer_matches_trls_loss_and_keeps_trls_path_where_logits_are_wanted(tmp_path):
    """FtTrainer on tiny-random (a Llama) under LoRA, on a batch TRL's own collator built with assistant-only labels
    and padding: its training loss and gradients are TRL's compute_loss's, with and without the accumulated token
    count; a prediction step, which asks for outputs, gets TRL's path and the logits of every position."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from ft_jupyter.models.tiny import ensure_tiny_random
    from ft_jupyter.train.trainer import FtTrainer

    folder = ensure_tiny_random()
    torch.manual_seed(0)
    model = _with_lora(AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32))
    system = {"role": "system", "content": "Sort each customer email into billing, bug or question."}
    rows = [
        {"messages": [system, {"role": "user", "content": text}, {"role": "assistant", "content": label}]}
        for text, label in EMAILS
    ]
    args = SFTConfig(
        output_dir=str(tmp_path),
        assistant_only_loss=True,
        per_device_train_batch_size=len(rows),
        max_length=128,
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        report_to=[],
    )
    trainer = FtTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=AutoTokenizer.from_pretrained(folder),
    )
    assert trainer.compact_head
    batch = next(iter(trainer.get_train_dataloader()))
    labelled = int((batch["labels"] != -100).sum())
    assert 0 < labelled < batch["labels"].numel() / 3 and bool((batch["attention_mask"] == 0).any())
    for count in (None, torch.tensor(labelled + 5)):
        _assert_same(
            _loss_and_grads(model, trainer.compute_loss, model, batch, num_items_in_batch=count),
            _loss_and_grads(model, SFTTrainer.compute_loss, trainer, model, batch, num_items_in_batch=count),
        )
    loss, outputs = trainer.compute_loss(model, batch, return_outputs=True)
    assert outputs.logits.shape == (*batch["input_ids"].shape, model.config.vocab_size)
    torch.testing.assert_close(loss, SFTTrainer.compute_loss(trainer, model, batch), rtol=1e-5, atol=1e-6)
