"""Forgetting check: perplexity on general text before and after fine-tuning.

A model specialised on support emails can lose fluency elsewhere (catastrophic forgetting). Perplexity on a sample of
general text that the run never trained on shows it: if it rises by more than the threshold, the check is flagged and
lists the mitigations the trainer offers for this config.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ft_jupyter.config import RunConfig
from ft_jupyter.evaluate.runs import load_models, open_run, save_result

THRESHOLD = 0.10  # flag a perplexity rise above 10 %
MAX_TOKENS = 256  # per text; the bundled general-text rows are a few sentences


@dataclass(frozen=True)
class ForgettingReport:
    run_id: str
    texts: int
    tokens: int
    before: float  # perplexity of the base model
    after: float  # perplexity of the fine-tuned model
    threshold: float
    mitigations: list[str] = field(default_factory=list)

    @property
    def change(self) -> float:
        """Relative perplexity change: +0.25 means 25 % worse after fine-tuning."""
        return self.after / self.before - 1.0

    @property
    def flagged(self) -> bool:
        return self.change > self.threshold

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "texts": self.texts,
            "tokens": self.tokens,
            "before": self.before,
            "after": self.after,
            "change": self.change,
            "threshold": self.threshold,
            "flagged": self.flagged,
            "mitigations": self.mitigations,
        }

    def __str__(self) -> str:
        head = (
            f"Forgetting check, run {self.run_id}: general-text perplexity {self.before:.2f} → {self.after:.2f} "
            f"({self.change:+.1%}) on {self.texts} texts, {self.tokens:,} tokens never trained on."
        )
        if not self.flagged:
            return head + f" Within {self.threshold:.0%}: no sign of forgetting."
        return "\n".join(
            [head, f"Flagged: more than {self.threshold:.0%} worse. Options:"] + [f"  - {m}" for m in self.mitigations]
        )

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython shows the text, not the fields
        printer.text(str(self))


def mitigations(config: RunConfig) -> list[str]:
    """What this config could change against forgetting, most effective first."""
    t, m, d = config.training, config.method, config.data
    out = []
    if d.mix_fraction == 0:
        out.append("data.mix_fraction: 0.1 mixes 10 % general text into training so general skills stay exercised.")
    out.append(
        f"training.learning_rate: {t.learning_rate:g} → {t.learning_rate / 2:g} (a lower rate moves the weights less)."
    )
    out.append("Train less: fewer training.epochs / max_steps, or training.early_stopping_patience with eval_steps.")
    if m.method == "full":
        out.append("method.method: lora trains small adapters and leaves the base weights untouched.")
        if t.l2_to_init == 0:
            out.append("training.l2_to_init: 0.01-0.1 pulls weights back toward where they started.")
        if t.ewc_lambda == 0:
            out.append(
                "training.ewc_lambda: like l2_to_init, but the pull falls on the weights general text needs (EWC)."
            )
        if t.layer_lr_decay == 1.0:
            out.append("training.layer_lr_decay: 0.9 lets lower, more general layers move less.")
    elif m.uses_lora:
        out.append(f"method.r: {m.r} → {max(1, m.r // 2)}, or method.target_preset: attention (a smaller update).")
    return out


def general_texts(config: RunConfig, limit: int | None = None) -> list[str]:
    """The bundled general-text rows, minus any the run mixed into its training data or used to weigh EWC."""
    from ft_jupyter.data.bundled import load_bundled

    texts = [row["text"] for row in load_bundled("general-text")]
    if config.data.mix_fraction > 0:
        from ft_jupyter.data.mixing import mix_general_text
        from ft_jupyter.data.prepare import prepare

        train = prepare(config.data, seed=config.training.seed).train
        mixed, _ = mix_general_text(train, config.data, seed=config.training.seed)
        seen = {e.answer for e in mixed}
        texts = [t for t in texts if t not in seen]
    if config.training.ewc_lambda > 0:
        from ft_jupyter.data.mixing import fisher_texts

        used = set(fisher_texts(config.data, config.training.ewc_texts, config.training.seed))
        texts = [t for t in texts if t not in used]
    return texts[:limit] if limit else texts


def perplexity(
    model: Any,
    tokenizer: Any,
    texts: list[str],
    *,
    batch_size: int = 8,
    max_tokens: int = MAX_TOKENS,
    desc: str = "Perplexity",
    progress: bool | None = None,
) -> tuple[float, int]:
    """(perplexity, tokens scored): exp of the mean next-token loss over all tokens of all texts; a bar labelled
    `desc` counts the texts."""
    import torch
    import torch.nn.functional as F

    from ft_jupyter.evaluate.generation import padding_on
    from ft_jupyter.progress import progress_bar

    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        with padding_on(tokenizer, "right"), progress_bar(len(texts), desc, unit="texts", progress=progress) as bar:
            for start in range(0, len(texts), batch_size):
                batch = texts[start : start + batch_size]
                enc = tokenizer(batch, return_tensors="pt", padding=True, truncation=True, max_length=max_tokens).to(
                    model.device
                )
                with torch.inference_mode():
                    logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
                targets = enc["input_ids"][:, 1:].masked_fill(enc["attention_mask"][:, 1:] == 0, -100)
                total += F.cross_entropy(
                    logits[:, :-1].float().transpose(1, 2), targets, ignore_index=-100, reduction="sum"
                ).item()
                count += int((targets != -100).sum())
                bar.update(len(batch))
    finally:
        if was_training:
            model.train()
    return math.exp(total / max(1, count)), count


def forgetting_check(
    run: Any,
    *,
    runs_dir: str | Path = "runs",
    threshold: float = THRESHOLD,
    max_texts: int | None = None,
    batch_size: int = 8,
    save: bool = True,
    progress: bool | None = None,
) -> ForgettingReport:
    """Perplexity of base and fine-tuned model on general text the run never saw; flagged above `threshold`.
    progress: a bar for before and one for after, with ETA (default: on unless FT_JUPYTER_PROGRESS=0)."""
    run_dir, result = open_run(run, runs_dir)
    config = run_dir.config()
    texts = general_texts(config, max_texts)
    models = load_models(run_dir, result)
    with models.base() as base:
        before, tokens = perplexity(
            base, models.tokenizer, texts, batch_size=batch_size, desc="Forgetting: before (base)", progress=progress
        )
    after, _ = perplexity(
        models.tuned,
        models.tokenizer,
        texts,
        batch_size=batch_size,
        desc="Forgetting: after (fine-tuned)",
        progress=progress,
    )
    report = ForgettingReport(run_dir.run_id, len(texts), tokens, before, after, threshold, mitigations(config))
    if save:
        save_result(run_dir, "forgetting", report.to_json())
    return report
