"""training.packing on tiny-random, for real on CPU: an epoch of packed rows takes fewer steps for the same real
tokens, the loss stays on the answer tokens of every packed row, and packed rows do not see each other."""

import itertools
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

MAX_LEN = 256


@pytest.fixture(scope="module")
def short_rows(tiny):
    """Short emails (~60-250 tokens) packed into 256-token sequences, with a system prompt to mask as well."""
    return lambda **changes: tiny(
        **{
            "data.max_rows": 40,
            "data.validation_fraction": 0.1,
            "data.test_fraction": 0.1,
            "data.system_prompt": "You sort customer emails.",
            "training.max_steps": -1,
            "training.epochs": 1,
            "training.batch_size": 4,
            "training.max_seq_len": MAX_LEN,
            **changes,
        }
    )


def _kit_trainer(config, tmp_path: Path):
    """The trainer run_training would build for `config` (same data, template, SFTConfig), without training."""
    from ft_jupyter.data.preflight import preflight
    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.train.loading import load_for_training
    from ft_jupyter.train.trainer import build_trainer
    from ft_jupyter.train.translate import choose_precision, sft_config, total_steps

    data = prepare(config.data, seed=config.training.seed, progress=False)
    precision = choose_precision(config)
    loaded = load_for_training(config, precision)
    checked = preflight(data, loaded.tokenizer, config)
    if checked.template:
        loaded.tokenizer.chat_template = checked.template
    args = sft_config(config, precision, tmp_path, total_steps(config, len(data.train)), has_eval=False)
    trainer = build_trainer(config, loaded.model, loaded.tokenizer, args, data.train, [], [], lambda event: None)
    return trainer, loaded.tokenizer, data, checked


def _segments(batch):
    """(start, end) of every packed row in a padding-free batch (one flat row; positions restart at 0)."""
    positions = batch["position_ids"][0].tolist()
    starts = [i for i, p in enumerate(positions) if p == 0] + [len(positions)]
    return list(itertools.pairwise(starts))


def test_an_epoch_of_packed_rows_takes_fewer_steps_for_the_same_real_tokens(short_rows, events_of):
    import math

    import torch

    from ft_jupyter.train import run_training

    plain, packed = run_training(short_rows()), run_training(short_rows(**{"training.packing": True}))
    # 32 training rows, 4 a batch: 8 steps unpacked. Packed, ~2.3 rows share each 256-token sequence: 4 steps.
    started = [events_of(r.run_dir)[0] for r in (plain, packed)]
    assert [s["max_steps"] for s in started] == [plain.steps, packed.steps] == [8, 4]
    # One epoch each over the same rows: exactly the same real (non-pad) tokens, in half the steps, so each packed
    # batch carries about twice the real tokens of a padded one.
    assert packed.tokens_seen == plain.tokens_seen > 3000
    per_step = [r.tokens_seen / r.steps for r in (plain, packed)]
    assert per_step[1] > 1.8 * per_step[0], per_step
    for result in (plain, packed):
        losses = [loss for _, loss in result.losses]
        assert all(math.isfinite(loss) for loss in losses) and losses[-1] < losses[0] - 1.0, losses
        lora_b = [p for n, p in result.model.named_parameters() if "lora_B" in n]
        assert lora_b and all(bool(torch.any(p != 0)) for p in lora_b)  # LoRA B starts at zero: every one moved


def test_packed_batches_carry_loss_on_the_assistant_answers_only(short_rows, tmp_path):
    from ft_jupyter.data.lengths import length_stats
    from ft_jupyter.train.translate import packed_rows

    trainer, tokenizer, data, checked = _kit_trainer(short_rows(**{"training.packing": True}), tmp_path)
    by_ids = {}
    for example in data.train:
        messages = [dict(m) for m in example.messages]
        assert [m["role"] for m in messages] == ["system", "user", "assistant"]
        by_ids[tuple(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"])] = messages
    seen = 0
    for batch in trainer.get_train_dataloader():
        assert batch["input_ids"].shape[0] == 1 and "attention_mask" not in batch  # padding-free: one flat row
        ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
        for start, end in _segments(batch):
            messages = by_ids[tuple(ids[start:end])]  # a whole row, never a piece of one
            prompt = tokenizer.apply_chat_template(
                messages[:-1], tokenize=True, return_dict=True, add_generation_prompt=True
            )["input_ids"]
            answer = tokenizer(messages[-1]["content"] + "<|im_end|>", add_special_tokens=False)["input_ids"]
            carried = [i - start for i in range(start, end) if labels[i] != -100]
            # Exactly the answer and its end-of-turn token: no system or user token, nothing of a neighbour row.
            assert carried == list(range(len(prompt), len(prompt) + len(answer)))
            assert [ids[start + i] for i in carried] == answer
            seen += 1
    rows = len(trainer.train_dataset)
    assert seen == len(data.train) - 1 and seen > 1.5 * rows  # one row loses its whole answer to max_seq_len
    # That row is dropped as unpacked training drops it; the eject counts an epoch from the preflight's lengths.
    lost = length_stats(tokenizer, {"train": data.train}, checked.template).truncated(MAX_LEN)["train"]
    assert lost["no_loss_left"] == 1
    assert packed_rows(list(checked.train_lengths), MAX_LEN) == rows + lost["no_loss_left"]


def test_packed_rows_do_not_attend_to_each_other_the_loss_is_the_same_packed_or_not(short_rows, tmp_path):
    import torch

    totals = {}
    for packing in (False, True):
        trainer, *_ = _kit_trainer(short_rows(**{"training.packing": packing}), tmp_path / str(packing))
        model = trainer.model.eval()
        loss_sum, tokens, batches = 0.0, 0, 0
        with torch.no_grad():
            for batch in trainer.get_train_dataloader():
                count = int((batch["labels"][:, 1:] != -100).sum())  # what the loss averages over
                loss_sum += float(trainer.compute_loss(model, batch)) * count
                tokens, batches = tokens + count, batches + 1
        totals[packing] = (loss_sum, tokens, batches)
    (plain_sum, plain_tokens, plain_batches), (packed_sum, packed_tokens, packed_batches) = totals[False], totals[True]
    assert (packed_batches, plain_batches) == (4, 8)
    assert packed_tokens == plain_tokens > 0
    # Rows that could see their neighbours score differently: ~2% off here (checked by leaving the row boundaries
    # out of position_ids), against 1e-5 allowed.
    assert packed_sum == pytest.approx(plain_sum, rel=1e-5)
