"""The fundamentals lessons' options, each proven on a real tiny run: gradual unfreezing, layer-wise learning
rates, L2 toward the initial weights, general-text mixing, cost, early stopping and loading the best checkpoint."""

import pytest

pytestmark = pytest.mark.integration


def _fresh_base():
    from transformers import AutoModelForCausalLM

    from ft_jupyter.models.catalogue import resolve

    return AutoModelForCausalLM.from_pretrained(resolve("tiny-random"))


def _distance_from_init(model) -> float:
    base = dict(_fresh_base().named_parameters())
    return sum(float((p.detach() - base[n].detach()).pow(2).sum()) for n, p in model.named_parameters()) ** 0.5


def test_layerwise_learning_rates_decay_from_the_head_down():
    from ft_jupyter.train.layers import layerwise_param_groups

    model = _fresh_base()
    groups = layerwise_param_groups(model, base_lr=1e-3, decay=0.5, weight_decay=0.0, decay_names=set())
    lrs = [g["lr"] for g in groups]
    # head + final norm (depth 5), blocks 4..1, input embeddings (tied to the head here, so counted with it)
    assert lrs == [1e-3, 5e-4, 2.5e-4, 1.25e-4, 6.25e-5]
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_gradual_unfreezing_trains_the_top_first_and_leaves_lower_blocks_untouched(tiny, events_of):
    import torch

    from ft_jupyter.train import run_training

    # Full fine-tuning with one more block every 3 steps: steps 1-3 train the head (tied to the embeddings) and
    # the final norm, steps 4-6 add block 4. Blocks 1-3 would only unfreeze later, so they must not move at all.
    config = tiny(
        **{
            "method.method": "full",
            "training.learning_rate": 1e-3,
            "training.max_steps": 6,
            "training.unfreeze_every_steps": 3,
            "training.layer_lr_decay": 0.8,
        }
    )
    result = run_training(config)
    base = dict(_fresh_base().named_parameters())
    changed = {n for n, p in result.model.named_parameters() if not torch.equal(p, base[n])}
    assert changed == {"model.embed_tokens.weight", "model.norm.weight"} | {n for n in base if ".layers.3." in n}
    notes = [e["message"] for e in events_of(result.run_dir) if e["type"] == "note"]
    assert "training the head; frozen for now: block 4 of 4" in notes[0] and "unfroze block 4 of 4" in notes[1]


def test_l2_toward_init_holds_weights_back_and_mixing_and_cost_are_reported(tiny, events_of):
    from ft_jupyter.train import run_training

    common = {
        "method.method": "full",
        "training.learning_rate": 1e-3,
        "training.max_steps": 4,
        "data.mix_fraction": 0.25,
        "training.price_per_hour": 3.6,
    }
    free = run_training(tiny(**common))
    held = run_training(tiny(**common, **{"training.l2_to_init": 100.0}))
    assert _distance_from_init(held.model) < 0.5 * _distance_from_init(free.model)

    events = events_of(free.run_dir)
    started = events[0]
    task_rows = started["train_rows"] - started["mixed_rows"]
    assert started["mixed_rows"] == round(task_rows * 0.25 / 0.75) > 0
    costs = [e["cost_so_far"] for e in events if e["type"] == "step"]
    assert costs == sorted(costs) and costs[0] > 0
    finished = events[-1]
    assert finished["cost"] == pytest.approx(finished["device_hours"] * 3.6)
    assert free.cost == finished["cost"] and free.run_dir.status()["cost"] == finished["cost"]


def test_early_stopping_ends_a_stalled_run_and_the_best_checkpoint_is_what_gets_saved(tiny, events_of):
    import torch
    from safetensors.torch import load_file

    from ft_jupyter.train import run_training

    # A learning rate so small that nothing improves: after the first evaluation (step 2), two evaluations without
    # progress (steps 4 and 6) use up the patience; the best checkpoint is the one kept and saved.
    config = tiny(
        **{
            "training.learning_rate": 1e-9,
            "training.max_steps": 30,
            "training.eval_steps": 2,
            "training.early_stopping_patience": 2,
            "training.load_best_at_end": True,
            "training.save_total_limit": 1,
        }
    )
    result = run_training(config)
    events = events_of(result.run_dir)
    assert (result.state, result.steps) == ("finished", 6) and result.reason.startswith("early stopping")
    finished = events[-1]
    assert finished["reason"] == result.reason and finished["best_checkpoint"]
    best = result.run_dir.checkpoints_dir / finished["best_checkpoint"].rsplit("/", 1)[1]
    assert best in result.run_dir.checkpoints() and len(result.run_dir.checkpoints()) <= 2  # best + last
    saved = load_file(str(result.artifact_path / "adapter_model.safetensors"))
    kept = load_file(str(best / "adapter_model.safetensors"))
    assert saved.keys() == kept.keys() and all(torch.equal(saved[k], kept[k]) for k in saved)
    assert [e["code"] for e in events if e["type"] == "note"] == ["early_stopping", "best_loaded"]
