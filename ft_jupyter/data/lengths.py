"""Token-length statistics per split, counted with the chosen model's tokenizer and training chat template.

The sequence-length trap: attention memory and compute grow with the longest sequence in a batch, so a max length
far beyond what the data needs costs money for nothing, while one too short cuts answers off (the end of a row is
where the answer is). These numbers let a person cap max_seq_len at what the data needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

ROUND_TO = 32  # recommended lengths are multiples of this (friendly to kernels and to people)
OUTLIER_RATIO = 1.5  # a max this far above the 99th percentile is a few outlier rows, not what the data needs


@dataclass(frozen=True)
class RowLength:
    where: str
    tokens: int
    answer_start: int  # index of the first loss-carrying token (len(tokens) if none)
    answer_end: int  # one past the last loss-carrying token


def percentile(values: list[int], q: float) -> int:
    """Nearest-rank percentile (a value that occurs in the data)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class LengthStats:
    splits: dict[str, list[RowLength]]
    notes: list[str] = field(default_factory=list)

    def lengths(self, split: str | None = None) -> list[int]:
        parts = [self.splits[split]] if split else self.splits.values()
        return [r.tokens for part in parts for r in part]

    def percentiles(self, split: str | None = None) -> dict[str, int]:
        values = self.lengths(split)
        if not values:
            return {}
        return {
            "min": min(values),
            "p50": percentile(values, 50),
            "p90": percentile(values, 90),
            "p95": percentile(values, 95),
            "p99": percentile(values, 99),
            "max": max(values),
        }

    def histogram(self, bins: int = 20) -> dict[str, Any]:
        """Shared bin edges and per-split counts, ready for a bar chart."""
        values = self.lengths()
        low, high = min(values), max(values)
        width = max(1, math.ceil((high - low + 1) / bins))
        edges = [low + i * width for i in range(bins + 1)]
        counts = {}
        for name in self.splits:
            row = [0] * bins
            for v in self.lengths(name):
                row[min((v - low) // width, bins - 1)] += 1
            counts[name] = row
        return {"edges": edges, "counts": counts}

    def truncated(self, max_length: int) -> dict[str, dict[str, int]]:
        """Per split: rows longer than max_length, rows whose answer is cut, rows left with no loss at all."""
        out = {}
        for name, rows in self.splits.items():
            out[name] = {
                "truncated": sum(r.tokens > max_length for r in rows),
                "answer_cut": sum(r.answer_end > max_length for r in rows),
                "no_loss_left": sum(r.answer_start >= max_length for r in rows),
            }
        return out

    def recommend(self) -> int:
        """The smallest multiple of 32 that fits every row, or the 99th percentile when a few outliers dominate."""
        stats = self.percentiles()
        need = stats["max"]
        if stats["max"] > OUTLIER_RATIO * stats["p99"]:
            need = stats["p99"]
        return max(ROUND_TO, math.ceil(need / ROUND_TO) * ROUND_TO)

    def to_dict(self, max_length: int | None = None) -> dict[str, Any]:
        out = {
            "splits": {name: self.percentiles(name) | {"rows": len(rows)} for name, rows in self.splits.items()},
            "all": self.percentiles(),
            "histogram": self.histogram(),
            "recommended_max_length": self.recommend(),
            "notes": self.notes,
        }
        if max_length is not None:
            out["max_length"] = max_length
            out["truncation"] = self.truncated(max_length)
        return out

    def to_text(self, max_length: int | None = None) -> str:
        lines = [f"  {'split':<10} {'rows':>6} {'min':>6} {'p50':>6} {'p90':>6} {'p95':>6} {'p99':>6} {'max':>6}"]
        for name, rows in self.splits.items():
            if rows:
                p = self.percentiles(name)
                lines.append(
                    f"  {name:<10} {len(rows):>6} "
                    + " ".join(f"{p[k]:>6}" for k in ("min", "p50", "p90", "p95", "p99", "max"))
                )
        rec = self.recommend()
        lines.append(
            f"  Recommended max_seq_len: {rec} (fits {self._share_fitting(rec):.1%} of rows whole; cost grows "
            "with length, so cap at what the data needs)"
        )
        if max_length is not None:
            cut = self.truncated(max_length)
            total = {k: sum(c[k] for c in cut.values()) for k in ("truncated", "answer_cut", "no_loss_left")}
            lines.append(
                f"  With max_seq_len {max_length}: {total['truncated']} rows truncated, {total['answer_cut']} "
                f"lose part of their answer, {total['no_loss_left']} lose all of it (dropped by the trainer)"
            )
        return "\n".join(lines + [f"  Note: {n}" for n in self.notes])

    def _share_fitting(self, max_length: int) -> float:
        values = self.lengths()
        return sum(v <= max_length for v in values) / max(1, len(values))


def _row_length(tokenizer, template: str | None, example) -> RowLength:
    from ft_jupyter.data.template_checks import assistant_mask

    messages = list(example.messages)
    if template is not None:
        ids, mask = assistant_mask(tokenizer, template, messages)
        loss = [i for i, m in enumerate(mask) if m]
    else:
        ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
        loss = list(range(len(ids)))
    return RowLength(
        getattr(example, "where", ""), len(ids), loss[0] if loss else len(ids), loss[-1] + 1 if loss else len(ids)
    )


def length_stats(
    tokenizer, splits: dict[str, list], template: str | None = None, *, progress: bool | None = None
) -> LengthStats:
    """Token lengths of every row of every split (PreparedData.splits() or any {name: [Example or Row]}).

    `template`: the training template (with generation markers) to locate the answers; without one, lengths are
    counted with the tokenizer's own template and every token counts as answer. A progress bar shows from
    PROGRESS_FROM_ROWS rows on (progress=False hides it).
    """
    from ft_jupyter.data.load import PROGRESS_FROM_ROWS
    from ft_jupyter.progress import progress_bar, tracked

    total = sum(len(rows) for rows in splits.values())
    with progress_bar(total, "Token lengths", unit="rows", progress=progress, min_total=PROGRESS_FROM_ROWS) as bar:
        return LengthStats(
            {name: [_row_length(tokenizer, template, ex) for ex in tracked(rows, bar)] for name, rows in splits.items()}
        )


def truncation_warning(stats: LengthStats, max_length: int) -> str:
    """One sentence for the run log when max_seq_len cuts training answers; empty when nothing is lost."""
    cut = stats.truncated(max_length).get("train", {})
    if not cut or not cut["answer_cut"]:
        return ""
    return (
        f"training.max_seq_len = {max_length} cuts the answer of {cut['answer_cut']} training rows"
        + (f" ({cut['no_loss_left']} lose all of it and are dropped)" if cut["no_loss_left"] else "")
        + f". The data needs {stats.recommend()} tokens; raise max_seq_len or shorten those rows."
    )
