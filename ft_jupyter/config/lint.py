"""Config lint: settings that are allowed but probably not what you want, each with the reason and a fix.

Validation (schema.py) refuses what cannot work; lint only warns. The estimate, the panels and the CLI show these
next to the numbers. Imports no torch: device and data facts come in as arguments when the caller knows them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ft_jupyter.config.run import RunConfig

LORA_LR = 2e-4  # the usual LoRA/QLoRA peak rate
LORA_LR_FACTOR = 5  # warn beyond 5x either side of it
FULL_LR_MAX = 5e-5  # full fine-tuning above this tends to erase what the model knew
FREEZE_LR_MAX = 1e-4
ALPHA_RATIO = (0.5, 4.0)  # alpha / r outside this: updates scaled oddly small or large
SEQ_SLACK = 2.0  # max_seq_len more than this × the longest row wastes memory on nothing
MIN_SEQ_FOR_SLACK = 256
MAX_EPOCHS = 5
MAX_CHECKPOINTS = 3
# A randomly initialised test model learns from scratch and needs rates no real model would; rate rules skip it.
_FROM_SCRATCH = {"tiny-random"}


@dataclass(frozen=True)
class LintWarning:
    field: str  # dotted config field the warning is about
    message: str  # what looks wrong and why
    fix: str  # what to do

    def __str__(self) -> str:
        return f"{self.field}: {self.message} {self.fix}"


def _rate_rules(config: RunConfig) -> list[LintWarning]:
    lr, method = config.training.learning_rate, config.method.method
    if config.model.name in _FROM_SCRATCH:
        return []
    out = []
    if method in ("lora", "qlora") and not LORA_LR / LORA_LR_FACTOR <= lr <= LORA_LR * LORA_LR_FACTOR:
        direction = "high: loss may spike or diverge" if lr > LORA_LR else "low: the adapter will barely move"
        out.append(
            LintWarning(
                "training.learning_rate",
                f"{lr:g} is far from the usual ~{LORA_LR:g} for LoRA ({direction}).",
                f"Start near {LORA_LR:g} and change it only with evidence.",
            )
        )
    if method == "full" and lr > FULL_LR_MAX:
        out.append(
            LintWarning(
                "training.learning_rate",
                f"{lr:g} is high for full fine-tuning: every weight moves, "
                "and rates above ~5e-5 tend to erase general skills (catastrophic forgetting).",
                "Use 1e-5 to 5e-5 (2e-5 is a good start), or switch to LoRA.",
            )
        )
    if method == "freeze" and lr > FREEZE_LR_MAX:
        out.append(
            LintWarning(
                "training.learning_rate",
                f"{lr:g} is high for training whole blocks of a pretrained model.",
                f"Stay at or below {FREEZE_LR_MAX:g}.",
            )
        )
    return out


def _lora_rules(config: RunConfig) -> list[LintWarning]:
    m = config.method
    if not m.uses_lora:
        return []
    out = []
    ratio = m.alpha / (math.sqrt(m.r) if m.use_rslora else m.r)
    low, high = ALPHA_RATIO
    if not m.use_rslora and not low <= ratio <= high:
        out.append(
            LintWarning(
                "method.alpha",
                f"alpha/r = {m.alpha}/{m.r} = {ratio:g} scales the update unusually "
                f"{'weakly' if ratio < low else 'strongly'} (it acts like a learning-rate multiplier).",
                f"Use alpha = r or 2×r (e.g. {2 * m.r}), or turn on use_rslora for large ranks.",
            )
        )
    if m.r > 64 and not m.use_rslora:
        out.append(
            LintWarning(
                "method.r",
                f"rank {m.r} is large; plain LoRA's alpha/r scaling makes big ranks learn "
                "slowly and they rarely beat r=16-64.",
                "Lower r, or set use_rslora: true.",
            )
        )
    return out


def _data_rules(config: RunConfig, longest_row_tokens: int | None) -> list[LintWarning]:
    d, t = config.data, config.training
    out = []
    if d.validation_fraction == 0:
        out.append(
            LintWarning(
                "data.validation_fraction",
                "is 0: no validation split, so nothing shows overfitting or forgetting during training.",
                "Hold out 5-10% (0.1).",
            )
        )
    if d.test_fraction == 0:
        out.append(
            LintWarning(
                "data.test_fraction",
                "is 0: no held-out test rows, so the before/after comparison cannot be measured honestly.",
                "Hold out 10-20% (0.15).",
            )
        )
    if longest_row_tokens and t.max_seq_len > max(MIN_SEQ_FOR_SLACK, SEQ_SLACK * longest_row_tokens):
        need = 32 * math.ceil(longest_row_tokens / 32)
        out.append(
            LintWarning(
                "training.max_seq_len",
                f"{t.max_seq_len} is far above the longest training row "
                f"({longest_row_tokens} tokens); nothing is gained and memory is reserved for it.",
                f"Cap it at what the data needs, e.g. {need}.",
            )
        )
    return out


def _budget_rules(config: RunConfig, device: str | None) -> list[LintWarning]:
    t, m = config.training, config.method
    out = []
    if device == "cpu" and t.precision in ("fp16", "bf16"):
        out.append(
            LintWarning(
                "training.precision",
                f"{t.precision} on a CPU: fp16 needs a CUDA GPU, and bf16 on CPU is slow on most processors.",
                "Use auto (fp32 on CPU).",
            )
        )
    if device == "cpu" and config.quantization.mode != "none":
        out.append(
            LintWarning(
                "quantization.mode",
                f"{config.quantization.mode} on a CPU works but is slow; quantization saves GPU memory, not CPU time.",
                "Use lora without quantization on CPU.",
            )
        )
    if t.max_steps < 0 and t.epochs > MAX_EPOCHS:
        out.append(
            LintWarning(
                "training.epochs",
                f"{t.epochs:g} epochs invites overfitting and forgetting.",
                "1-3 epochs usually suffice; watch the eval loss and stop early.",
            )
        )
    if (t.save_steps or t.load_best_at_end) and t.save_total_limit > MAX_CHECKPOINTS:
        out.append(
            LintWarning(
                "training.save_total_limit",
                f"keeps {t.save_total_limit} checkpoints; each costs disk (and upload) for little benefit.",
                "Keep the best and the last: 1-2.",
            )
        )
    if m.method == "full":
        out.append(
            LintWarning(
                "method.method",
                "full fine-tuning updates every weight: several times the memory "
                "and checkpoint size of LoRA, usually for a small gain on narrow tasks.",
                "Try lora or qlora first; upgrade only if evaluation shows a gap.",
            )
        )
    if not t.assistant_only_loss:
        out.append(
            LintWarning(
                "training.assistant_only_loss",
                "is off: the loss also trains the model to reproduce prompts.",
                "Turn it on unless your rows are plain text.",
            )
        )
    return out


def _packing_rules(config: RunConfig) -> list[LintWarning]:
    t = config.training
    if not t.packing:
        return []
    out = []
    if t.group_by_length:
        out.append(
            LintWarning(
                "training.group_by_length",
                "has nothing to group once rows are packed: packed "
                "sequences are all close to max_seq_len, and packing already removes the padding.",
                "Turn group_by_length off.",
            )
        )
    if config.model.trust_remote_code:
        out.append(
            LintWarning(
                "training.packing",
                "relies on the model masking attention by the per-row "
                "position_ids of each packed sequence, which transformers' own architectures do; "
                "remote model code may ignore them and let packed rows attend to each other.",
                "Turn packing off unless you have checked that the model's code honours "
                "position_ids without an attention mask.",
            )
        )
    return out


def lint(config: RunConfig, *, device: str | None = None, longest_row_tokens: int | None = None) -> list[LintWarning]:
    """Warnings for `config`. device ("cpu"/"cuda") and the longest training row, when known, enable more rules."""
    return (
        _rate_rules(config)
        + _lora_rules(config)
        + _data_rules(config, longest_row_tokens)
        + _budget_rules(config, device)
        + _packing_rules(config)
    )
