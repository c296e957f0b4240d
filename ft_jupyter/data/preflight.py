"""The data checks a run makes once the tokenizer is loaded, before the first step: template, lengths, findings."""

from __future__ import annotations

from dataclasses import dataclass

from ft_jupyter.config import RunConfig
from ft_jupyter.data.prepare import PreparedData

TEMPLATE_SAMPLE = 16  # training rows rendered both ways to check train/inference agreement


@dataclass(frozen=True)
class Preflight:
    template: str | None  # the training chat template to set on the tokenizer (None: keep the tokenizer's)
    template_note: str
    warnings: tuple[str, ...]  # for the run log, one Warning event each
    train_lengths: tuple[int, ...] = ()  # tokens of each training row, as the trainer tokenizes it


def preflight(data: PreparedData, tokenizer, config: RunConfig) -> Preflight:
    """Check the chat template and sequence lengths against this data; ConfigError on what would ruin the run."""
    from ft_jupyter.data.lengths import length_stats, truncation_warning
    from ft_jupyter.data.templates import training_template

    template, note, warnings = None, "", list(data.warnings)
    if config.training.assistant_only_loss:
        chosen = training_template(tokenizer, [e.messages for e in data.train[:TEMPLATE_SAMPLE]])
        template, note = chosen.template, chosen.note
        warnings += chosen.warnings
    stats = length_stats(tokenizer, {"train": data.train}, template)
    cut = truncation_warning(stats, config.training.max_seq_len)
    return Preflight(template, note, tuple(warnings + ([cut] if cut else [])), tuple(stats.lengths("train")))
