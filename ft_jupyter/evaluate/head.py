"""Scoring a classification-head run (method "head"): each row gets the label with the highest logit, measured with
the same metrics as generated labels (accuracy, macro-F1, per class). A head always names a label, so its
invalid_rate is 0.

Inputs are built exactly as in training (`train.classifier.encode`): the prompt through the chat template with the
generation prompt, cut to the run's max_seq_len from the start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ft_jupyter.evaluate.classification import ClassificationReport, score_labels


def head_labels(model: Any) -> list[str]:
    """The label each output of the classifier stands for, in order (saved in its config as id2label)."""
    return [model.config.id2label[i] for i in range(model.config.num_labels)]


def predict_labels(
    model: Any,
    tokenizer: Any,
    examples: list[Any],
    max_len: int,
    *,
    batch_size: int = 16,
    desc: str = "Classifying",
    progress: bool | None = None,
) -> list[str]:
    """The predicted label of each example, in the order given; a bar labelled `desc` counts the rows."""
    import torch

    from ft_jupyter.progress import progress_bar
    from ft_jupyter.train.classifier import encode

    labels = head_labels(model)
    pad_id = model.config.get_text_config().pad_token_id  # what the model's pooling takes for padding
    encoded, _ = encode(tokenizer, examples, max_len)
    predictions = [""] * len(examples)
    was_training = model.training
    model.eval()
    try:
        with progress_bar(len(examples), desc, unit="rows", progress=progress) as bar:
            for batch in _longest_first(encoded["input_ids"], batch_size):
                ids, mask = _padded_right([encoded["input_ids"][i] for i in batch], pad_id)
                with torch.inference_mode():
                    logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits
                best = logits.argmax(-1).tolist()
                for i, label_id in zip(batch, best, strict=True):
                    predictions[i] = labels[label_id]
                bar.update(len(batch))
    finally:
        if was_training:
            model.train()
    return predictions


def _padded_right(rows: list[list[int]], pad_id: int):
    """(input_ids, attention_mask) tensors, padded on the right as in training; the classifier reads each row's last
    non-pad position (transformers' GenericForSequenceClassification), whichever side is padded."""
    import torch

    width = max(len(row) for row in rows)
    ids = torch.tensor([row + [pad_id] * (width - len(row)) for row in rows])
    mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows])
    return ids, mask


def _longest_first(ids: list[list[int]], batch_size: int) -> list[list[int]]:
    """Indices in batches of similar length (little padding), longest first (a batch too big fails at once)."""
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def evaluate_head(
    run: Any, examples: list[Any], *, runs_dir: str | Path = "runs", batch_size: int = 16, progress: bool | None = None
) -> ClassificationReport:
    """The kit's classification report (accuracy, macro-F1, per class; invalid_rate 0) for a head run on
    `examples` (each with its label). run: a RunResult (its model in memory is used), a RunDir, a run folder or a
    run id under `runs_dir`."""
    from ft_jupyter.evaluate.runs import load_models, open_run

    run_dir, result = open_run(run, runs_dir)
    models = load_models(run_dir, result, generative=False, base=False)
    predictions = predict_labels(
        models.tuned,
        models.tokenizer,
        examples,
        run_dir.config().training.max_seq_len,
        batch_size=batch_size,
        progress=progress,
    )
    return score_labels(predictions, [e.label for e in examples], tuple(head_labels(models.tuned)))
