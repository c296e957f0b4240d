"""EWC on a real tiny run: a model that first learned some general text is fine-tuned on support emails three ways
(no pull, plain L2 toward the start, EWC at the same strength). EWC must keep much more of what the model knew than
no pull does, and more than L2 does while fitting the task at least as well."""

import json
import random

import pytest

pytestmark = pytest.mark.integration

STRENGTH = 0.3


@pytest.fixture(scope="module")
def knowing(tmp_path_factory):
    """(folder of a tiny model that learned 48 general texts, JSONL of those texts, the texts)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ft_jupyter.data.bundled import load_bundled
    from ft_jupyter.models.tiny import ensure_tiny_random

    torch.manual_seed(0)
    source = ensure_tiny_random()
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source)
    texts = [row["text"] for row in load_bundled("general-text")][:48]
    rng = random.Random(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(120):
        enc = tokenizer(rng.sample(texts, 8), return_tensors="pt", padding=True, truncation=True, max_length=128)
        labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
        model(**enc, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    folder = tmp_path_factory.mktemp("knowing")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    general = folder / "general.jsonl"
    general.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return folder, general, texts


def _fine_tune(knowing, runs_dir, **training):
    from ft_jupyter.config import RunConfig
    from ft_jupyter.evaluate.forgetting import perplexity
    from ft_jupyter.train import run_training

    folder, general, texts = knowing
    config = RunConfig.from_dict(
        {
            "runs_dir": str(runs_dir),
            "model": {"name": str(folder)},
            "method": {"method": "full"},
            "data": {"dataset": "support-emails", "max_rows": 120, "mix_dataset": str(general)},
            "training": {
                "max_steps": 20,
                "batch_size": 8,
                "learning_rate": 2e-3,
                "max_seq_len": 128,
                "warmup_ratio": 0.0,
                "seed": 7,
                "eval_steps": 20,
                **training,
            },
        }
    )
    result = run_training(config)
    known, _ = perplexity(result.model, result.tokenizer, texts, progress=False)
    return result, known


def test_ewc_keeps_what_the_model_knew_better_than_l2_at_no_worse_task_loss(knowing, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ft_jupyter.evaluate.forgetting import perplexity

    folder, _, texts = knowing
    start = AutoModelForCausalLM.from_pretrained(folder)
    before, _ = perplexity(start, AutoTokenizer.from_pretrained(folder), texts, progress=False)

    free, free_known = _fine_tune(knowing, tmp_path / "free")
    l2, l2_known = _fine_tune(knowing, tmp_path / "l2", l2_to_init=STRENGTH)
    ewc, ewc_known = _fine_tune(knowing, tmp_path / "ewc", ewc_lambda=STRENGTH, ewc_texts=48)

    def drift(known):  # how much worse the model now predicts the text it knew
        return known / before - 1

    # Measured: no pull +275 %, L2 +30 %, EWC +15 %; task loss 0.50 / 0.68 / 0.58.
    assert drift(ewc_known) < 0.25 * drift(free_known)
    assert drift(ewc_known) < 0.8 * drift(l2_known)
    task = {name: r.eval_losses[-1][1] for name, r in (("free", free), ("l2", l2), ("ewc", ewc))}
    assert task["ewc"] < task["l2"] - 0.04

    # It trained: the loss fell and the weights moved.
    losses = [loss for _, loss in ewc.losses]
    assert losses[-1] < 0.8 * losses[0]
    initial = dict(start.named_parameters())
    moved = max(float((p.detach() - initial[n].detach()).abs().max()) for n, p in ewc.model.named_parameters())
    assert moved > 1e-3
    assert torch.isfinite(torch.tensor(list(task.values()))).all()


def test_the_forgetting_check_leaves_out_the_texts_ewc_was_weighed_on(tiny):
    from ft_jupyter.data.mixing import fisher_texts
    from ft_jupyter.evaluate.forgetting import general_texts

    config = tiny(**{"training.ewc_lambda": 0.1, "training.ewc_texts": 20})
    weighed = fisher_texts(config.data, 20, config.training.seed)
    left = general_texts(config)
    assert len(weighed) == 20 and not set(weighed) & set(left)
    assert len(left) == len(general_texts(tiny())) - 20
