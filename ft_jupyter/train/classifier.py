"""Method "head": a new classification head on a frozen (or partly frozen) backbone, trained on label ids.

The model is `AutoModelForSequenceClassification` over the run's base model: the backbone's weights load as they
are and the head (a hidden size → number of labels linear layer, `score` on Llama-family models) starts from random
values. Everything stays frozen except the head and the top `method.freeze_train_blocks` decoder blocks.

Each row's input is its prompt as the causal methods see it when they answer: the chat template with the generation
prompt, so the head reads the hidden state at the very position where a fine-tuned language model starts writing its
label. Truncation to `training.max_seq_len` keeps the end of the prompt (the head reads the last token).

Training runs through a plain transformers `Trainer` with the run's own callbacks, so a head run writes the same
events, honours the same STOP file and saves to the same `model/` folder as every other run (plus labels.json).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ft_jupyter.config import ConfigError, RunConfig
from ft_jupyter.train.loading import LoadedModel

LABELS_FILE = "labels.json"
# What transformers' *ForSequenceClassification classes call their head: `score` for decoder models
# (GenericForSequenceClassification), `classifier` for encoder-style ones.
HEAD_NAMES = ("score", "classifier")
INPUT_NOTE = (
    "inputs: each row's prompt through the chat template with the generation prompt; the classification "
    "head reads the last position"
)


def require_labels(config: RunConfig, labels: tuple[str, ...] | None, data_format: str) -> tuple[str, ...]:
    """The label set a head run classifies into; ConfigError when the data has none (or only one)."""
    if not labels:
        raise ConfigError(
            f"method.method = 'head' trains a classifier, but data.dataset = {config.data.dataset!r} "
            f"has no labels (format {data_format!r}, and its answers do not look like a small set of "
            "repeated labels). Use label data (rows with text and label, or conversations whose "
            "answers are a few short labels), or set method.method to 'lora' to learn free-text "
            "answers."
        )
    if len(labels) < 2:
        raise ConfigError(
            f"method.method = 'head' needs at least two labels to choose between, but "
            f"{config.data.dataset!r} has only {labels[0]!r}; add rows of other labels."
        )
    return labels


def prompt_texts(tokenizer, examples: list[Any]) -> list[str]:
    """Each example's prompt as the model reads it before answering (chat template, generation prompt)."""
    from ft_jupyter.data.probes import render
    from ft_jupyter.data.templates import original_template

    template = original_template(tokenizer)  # ConfigError when the tokenizer has none
    return [render(tokenizer, template, e.prompt, add_generation_prompt=True) for e in examples]


def encode(tokenizer, examples: list[Any], max_len: int) -> tuple[dict[str, list], int]:
    """(input_ids and attention_mask of each example's prompt, how many prompts were longer than max_len). A long
    prompt keeps its last max_len tokens: the head reads the last position."""
    enc = tokenizer(prompt_texts(tokenizer, examples), add_special_tokens=False)
    cut = sum(len(ids) > max_len for ids in enc["input_ids"])
    return {key: [row[-max_len:] for row in enc[key]] for key in ("input_ids", "attention_mask")}, cut


def classification_head(model, num_labels: int) -> tuple[str, Any]:
    """(name, module) of the model's classification head: the child named in HEAD_NAMES whose last linear layer
    maps to num_labels; ConfigError when there is none."""
    import torch

    children = dict(model.named_children())
    for name in HEAD_NAMES:
        if name in children:
            linears = [m for m in children[name].modules() if isinstance(m, torch.nn.Linear)]
            if linears and linears[-1].out_features == num_labels:
                return name, children[name]
    raise ConfigError(
        f"{type(model).__name__} has no classification head ({' or '.join(HEAD_NAMES)}, ending in a "
        f"linear layer to {num_labels} labels), so method 'head' cannot tell which weights are new. "
        "Use a decoder model transformers has a ...ForSequenceClassification class for (Llama, Qwen2, "
        "Mistral, SmolLM2, ...), or method 'freeze'."
    )


def freeze_backbone(model, config: RunConfig, num_labels: int) -> str:
    """Freeze everything but the classification head and the top method.freeze_train_blocks blocks; returns the
    head's name."""
    from ft_jupyter.train.loading import train_top_blocks

    for p in model.parameters():
        p.requires_grad_(False)
    name, head = classification_head(model, num_labels)
    for p in head.parameters():
        p.requires_grad_(True)
    train_top_blocks(model, config)
    if config.training.gradient_checkpointing:
        model.enable_input_require_grads()
    return name


class _DropLoadReport(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "LOAD REPORT" not in str(record.msg)


@contextmanager
def _without_load_report() -> Iterator[None]:
    """transformers logs a red MISSING table for the new head on every load; `load_classifier` checks the same keys
    itself and says what is wrong only when something is. A filter, not a higher level: transformers runs extra
    checks, with messages of their own, when its loading logger's level is WARNING or above."""
    hf_logger = logging.getLogger("transformers.modeling_utils")
    drop = _DropLoadReport()
    hf_logger.addFilter(drop)
    try:
        yield
    finally:
        hf_logger.removeFilter(drop)


def load_classifier(config: RunConfig, precision, labels: tuple[str, ...]) -> LoadedModel:
    """The tokenizer and a sequence classifier over the run's base model, frozen except what trains."""
    from transformers import AutoModelForSequenceClassification

    from ft_jupyter.models.catalogue import resolve
    from ft_jupyter.models.loading import load_tokenizer, torch_dtype, weights_dtype
    from ft_jupyter.train.loading import count_parameters

    source = resolve(config.model.name, revision=config.model.revision)
    tokenizer = load_tokenizer(config.model, source)  # a pad token (the eos token when the model has none)
    with _without_load_report():
        model, info = AutoModelForSequenceClassification.from_pretrained(
            source,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            problem_type="single_label_classification",
            pad_token_id=tokenizer.pad_token_id,
            dtype=torch_dtype(weights_dtype(config.model, precision.name, config.method.method)),
            revision=config.model.revision,
            trust_remote_code=config.model.trust_remote_code,
            output_loading_info=True,
        )
    head = freeze_backbone(model, config, len(labels))
    missing = sorted(k for k in info["missing_keys"] if not k.startswith(head + "."))
    if missing:
        raise ConfigError(
            f"{config.model.name}: {len(missing)} backbone weights were not found in the checkpoint "
            f"when loading it as {type(model).__name__} (e.g. {missing[0]}), so the backbone would start "
            "from random values. Use a model whose checkpoint matches its transformers class."
        )
    model.config.use_cache = False  # no generation: the forward pass returns the label logits only
    # The loss is a mean over the micro-batch: the Trainer must scale it for gradient accumulation itself
    # (it would not, believing the model normalises by num_items_in_batch, which it never passes to the loss).
    model.accepts_loss_kwargs = False
    total, trainable = count_parameters(model)
    return LoadedModel(model, tokenizer, source, total, trainable)


def _dataset(tokenizer, examples: list[Any], label2id: dict[str, int], max_len: int) -> tuple[Any, int]:
    from datasets import Dataset

    encoded, cut = encode(tokenizer, examples, max_len)
    encoded["labels"] = [label2id[e.label] for e in examples]
    return Dataset.from_dict(encoded), cut


def _accuracy(prediction) -> dict[str, float]:
    logits, gold = prediction.predictions, prediction.label_ids
    return {"accuracy": float((logits.argmax(-1) == gold).mean())}


def build_head_trainer(config: RunConfig, loaded: LoadedModel, args, data, callbacks: list) -> tuple[Any, list[str]]:
    """(the Trainer, warnings for the run log) for a head run on `data`'s train and validation splits."""
    from transformers import PrinterCallback, Trainer

    label2id = dict(loaded.model.config.label2id)
    max_len = config.training.max_seq_len
    train, cut = _dataset(loaded.tokenizer, data.train, label2id, max_len)
    validation = _dataset(loaded.tokenizer, data.validation, label2id, max_len)[0] if data.validation else None
    trainer = Trainer(
        model=loaded.model,
        args=args,
        train_dataset=train,
        eval_dataset=validation,
        processing_class=loaded.tokenizer,
        callbacks=callbacks,
        compute_metrics=_accuracy,
    )
    trainer.remove_callback(PrinterCallback)  # our observers report progress; raw log dicts are noise
    warnings = (
        [
            f"{cut} of {len(data.train)} training prompts are longer than training.max_seq_len = {max_len} "
            "tokens and were cut from the start (the head reads the end); raise max_seq_len to keep them whole."
        ]
        if cut
        else []
    )
    return trainer, warnings


def save_labels(folder: Path, labels: tuple[str, ...], config: RunConfig) -> None:
    """labels.json next to the saved classifier: the label of each output, in order, and how inputs are built."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LABELS_FILE).write_text(
        json.dumps({"labels": list(labels), "max_seq_len": config.training.max_seq_len, "input": INPUT_NOTE}, indent=1),
        encoding="utf-8",
    )


def train_head(config: RunConfig, run, emit, stop, meter, resume_from: Path | None):
    """`run_training` for method "head": the same events, stop handling and run folder, with a classifier."""
    import torch

    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.train.events import Warning
    from ft_jupyter.train.loop import quiet_libraries, run_callbacks, run_started, save_and_summarise, train_until_done
    from ft_jupyter.train.translate import check_run_needs, choose_precision, classifier_arguments, total_steps

    quiet_libraries()
    torch.manual_seed(config.training.seed)
    data = prepare(config.data, seed=config.training.seed)
    labels = require_labels(config, data.labels, data.format)
    precision = choose_precision(config)
    loaded = load_classifier(config, precision, labels)
    steps = total_steps(config, len(data.train))
    check_run_needs(config, has_eval=bool(data.validation))
    args = classifier_arguments(config, precision, run.checkpoints_dir, steps, has_eval=bool(data.validation))
    events, health = run_callbacks(config, run, emit, stop, meter, precision, args)
    trainer, warnings = build_head_trainer(config, loaded, args, data, [events, health])
    emit(
        run_started(
            run,
            config,
            precision,
            loaded,
            data,
            meter,
            resume_from,
            train_rows=len(data.train),
            steps=steps,
            template_note=INPUT_NOTE,
        )
    )
    for message in [*data.warnings, *warnings]:
        emit(Warning(step=0, code="data", message=message))
    emit.status(
        "running",
        f"training a {len(labels)}-label head for {steps} steps on {precision.device} ({precision.name})",
        max_steps=steps,
    )
    runtime = train_until_done(trainer, stop, events, resume_from)
    if emit.main:
        save_labels(run.path / "model", labels, config)
    return save_and_summarise(config, run, emit, trainer, loaded.tokenizer, events, health, meter, runtime)
