"""The cleaning report: what in a dataset would quietly hurt a run, returned as data and printable as a table.

Findings: exact duplicates, near-duplicates (equal after normalising case, punctuation and whitespace),
contradictions (same input, different answers), empty or near-empty answers, rare labels (often typos of a real
one), length outliers; plus the label distribution. Nothing is removed here: `apply_cleaning` drops only the steps a
person names, and says how many rows each step removed.
"""

from __future__ import annotations

import difflib
import json
import re
import statistics
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from ft_jupyter.config.sections import CLEANING_STEPS
from ft_jupyter.data.load import PROGRESS_FROM_ROWS, Row

_NON_WORD = re.compile(r"[\W_]+")
# A row this many times longer than the median row is almost never a real example (pasted logs, merged rows).
OUTLIER_FACTOR = 8
OUTLIER_MIN_CHARS = 1000
IMBALANCE_NOTE = 3.0  # max/min label ratio worth mentioning
IMBALANCE_WARN = 10.0  # ... and worth a training warning


def normalise(text: str) -> str:
    """Text as a near-duplicate check sees it: case-folded, punctuation dropped, whitespace collapsed."""
    return " ".join(_NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split())


def row_key(row: Row) -> str:
    """The normalised text of a whole row: rows with equal keys are duplicates, however they are spaced or cased."""
    return _joined(row.messages, [normalise(m["content"]) for m in row.messages])


def _joined(messages: tuple[dict[str, str], ...], normalised: list[str]) -> str:
    # `messages` may be the prompt alone: it pairs with the start of the whole conversation's normalised texts.
    return "\x1f".join(f"{m['role']}:{text}" for m, text in zip(messages, normalised, strict=False))


@dataclass(frozen=True)
class _Keys:
    """What the findings compare, computed once per row: normalising text is the slow part of the report."""

    exact: str  # the row verbatim
    near: str  # row_key(row)
    prompt: str | None  # the normalised prompt; None when it holds no input (plain-text rows share an empty one)
    answer: str  # the normalised answer


def _keys(row: Row) -> _Keys:
    normalised = [normalise(m["content"]) for m in row.messages]
    has_input = any(text for m, text in zip(row.prompt, normalised, strict=False) if m["role"] != "system")
    return _Keys(
        json.dumps(row.messages, sort_keys=True),
        _joined(row.messages, normalised),
        _joined(row.prompt, normalised) if has_input else None,
        normalised[-1],
    )


def _row_keys(rows: list[Row], progress: bool | None) -> list[_Keys]:
    from ft_jupyter.progress import progress_bar, tracked

    with progress_bar(
        len(rows), "Cleaning report", unit="rows", progress=progress, min_total=PROGRESS_FROM_ROWS
    ) as bar:
        return [_keys(row) for row in tracked(rows, bar)]


@dataclass(frozen=True)
class Finding:
    step: str  # one of CLEANING_STEPS
    title: str
    groups: tuple[tuple[int, ...], ...]  # related rows (indices into the rows given to clean_report), shown together
    drop: tuple[int, ...]  # rows `apply_cleaning` removes for this step
    advice: str

    @property
    def count(self) -> int:
        return len(self.drop)


@dataclass
class CleaningReport:
    rows: list[Row]
    findings: dict[str, Finding]
    label_counts: dict[str, int] | None
    median_chars: int
    rare_labels: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    @property
    def is_clean(self) -> bool:
        return not any(f.count for f in self.findings.values())

    @property
    def imbalance(self) -> float | None:
        """Largest over smallest label count, rare labels (a finding of their own) left out."""
        counts = [n for label, n in (self.label_counts or {}).items() if label not in self.rare_labels]
        return max(counts) / min(counts) if len(counts) >= 2 else None

    def warnings(self, dropped: tuple[str, ...] = ()) -> list[str]:
        """One sentence per finding that is present and not dropped, for the run log."""
        out = [
            f"{f.title}: {f.count} rows ({_where_list(self.rows, f.drop)}). {f.advice} To remove them, add "
            f"'{f.step}' to data.drop."
            for f in self.findings.values()
            if f.count and f.step not in dropped
        ]
        if self.imbalance and self.imbalance >= IMBALANCE_WARN:
            out.append(
                f"Labels are imbalanced {self.imbalance:.0f}:1 ({_counts_text(self.label_counts)}); the model "
                "may learn to predict the common label. Collect more of the rare ones or down-sample."
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": len(self.rows),
            "clean": self.is_clean,
            "findings": [
                {
                    "step": f.step,
                    "title": f.title,
                    "count": f.count,
                    "advice": f.advice,
                    "groups": [[self.rows[i].where for i in g] for g in f.groups],
                    "drop": [self.rows[i].where for i in f.drop],
                }
                for f in self.findings.values()
            ],
            "label_counts": self.label_counts,
            "imbalance": self.imbalance,
            "median_chars": self.median_chars,
            "notes": self.notes,
        }

    def to_text(self, max_groups: int = 5) -> str:
        lines = [f"Cleaning report for {len(self.rows)} rows (median length {self.median_chars} characters)"]
        width = max(len(f.title) for f in self.findings.values())
        for f in self.findings.values():
            lines.append(
                f"  {f.title:<{width}}  {f.count:>5} rows" + (f"   drop with data.drop: [{f.step}]" if f.count else "")
            )
            if f.count:
                lines.append(f"      {f.advice}")
            for group in f.groups[:max_groups]:
                lines.append("      " + _group_text(self.rows, group))
            if len(f.groups) > max_groups:
                lines.append(f"      ... {len(f.groups) - max_groups} more")
        if self.label_counts:
            ratio = f", imbalance {self.imbalance:.1f}:1" if self.imbalance else ""
            lines.append(f"  Labels: {_counts_text(self.label_counts)}{ratio}")
        lines += [f"  Note: {n}" for n in self.notes]
        lines.append(
            "  Verdict: clean."
            if self.is_clean
            else "  Verdict: fix these in the file, or list the steps to drop in data.drop."
        )
        return "\n".join(lines)


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _where_list(rows: list[Row], idx: tuple[int, ...], limit: int = 6) -> str:
    shown = ", ".join(rows[i].where for i in idx[:limit])
    return shown + (f" and {len(idx) - limit} more" if len(idx) > limit else "")


def _short(where: str) -> str:
    """'emails.jsonl:12' → 'line 12' (the file is named once, in the problems table)."""
    name, _, line = where.rpartition(":")
    return f"line {line}" if name and line.isdigit() else where


def _group_text(rows: list[Row], group: tuple[int, ...]) -> str:
    first = rows[group[0]]
    # Classification prompts all start with the same instruction: show the email text itself.
    text = first.source.get("text") if isinstance(first.source.get("text"), str) else None
    preview = json.dumps(text or (first.prompt[-1]["content"] if first.prompt else first.answer), ensure_ascii=False)
    preview = preview if len(preview) <= 60 else preview[:57] + '..."'
    parts = [f"{_short(rows[i].where)} -> {json.dumps(rows[i].answer[:30], ensure_ascii=False)}" for i in group[:4]]
    more = f" (+{len(group) - 4})" if len(group) > 4 else ""
    return f"{preview}: " + "; ".join(parts) + more


def _duplicates(keys: list[_Keys]) -> tuple[Finding, Finding]:
    exact: dict[str, list[int]] = defaultdict(list)
    near: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        exact[key.exact].append(i)
        near[key.near].append(i)
    exact_groups = tuple(tuple(g) for g in exact.values() if len(g) > 1)
    exact_of = {i: g[0] for g in exact.values() for i in g}
    near_groups, near_drop = [], []
    for group in near.values():
        firsts = sorted({exact_of[i] for i in group})
        if len(firsts) > 1:  # the same text spelled differently, not only repeated verbatim
            near_groups.append(tuple(firsts))
            near_drop += [i for i in group if exact_of[i] != firsts[0]]
    return (
        Finding(
            "exact-duplicates",
            "Exact duplicates",
            exact_groups,
            tuple(i for g in exact_groups for i in g[1:]),
            "Repeated rows weigh more in training and can leak into the test split.",
        ),
        Finding(
            "near-duplicates",
            "Near-duplicates",
            tuple(near_groups),
            tuple(sorted(near_drop)),
            "Rows differing only in case, spacing or punctuation are the same example.",
        ),
    )


def _contradictions(keys: list[_Keys]) -> Finding:
    by_prompt: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        if key.prompt is not None:
            by_prompt[key.prompt].append(i)
    groups = tuple(tuple(g) for g in by_prompt.values() if len({keys[i].answer for i in g}) > 1)
    return Finding(
        "contradictions",
        "Contradictions (same input, different answers)",
        groups,
        tuple(sorted(i for g in groups for i in g)),
        "The model cannot learn two answers to one input; keep the right one by hand, or drop all.",
    )


def _empty_answers(keys: list[_Keys]) -> Finding:
    bad = tuple(i for i, key in enumerate(keys) if len(key.answer.replace(" ", "")) < 2)
    return Finding(
        "empty-answers",
        "Empty or near-empty answers",
        tuple((i,) for i in bad),
        bad,
        "An answer of a character or two (or punctuation only) teaches the model to say nothing.",
    )


def _rare_labels(rows: list[Row], counts: dict[str, int] | None) -> Finding:
    if not counts:
        return Finding("rare-labels", "Rare labels", (), (), "")
    limit = max(2, round(0.01 * len(rows)))
    common = [label for label, n in counts.items() if n > limit]
    groups, advice = [], []
    for label, n in sorted(counts.items()):
        if n > limit or not common:
            continue
        groups.append(tuple(i for i, row in enumerate(rows) if row.label == label))
        close = difflib.get_close_matches(label.casefold(), [c.casefold() for c in common], n=1, cutoff=0.7)
        advice.append(f"{label!r} ({n}x)" + (f" looks like {close[0]!r}" if close else ""))
    drop = tuple(sorted(i for g in groups for i in g))
    return Finding(
        "rare-labels",
        "Rare labels (possible typos)",
        tuple(groups),
        drop,
        ("; ".join(advice) + ". " if advice else "") + "Fix the spelling, or drop labels too rare to learn.",
    )


def _length_outliers(rows: list[Row], median: float) -> Finding:
    limit = max(OUTLIER_FACTOR * median, OUTLIER_MIN_CHARS)
    bad = tuple(i for i, row in enumerate(rows) if _chars(row) > limit)
    return Finding(
        "length-outliers",
        f"Length outliers (> {limit:,.0f} characters)",
        tuple((i,) for i in bad),
        bad,
        f"Rows over {OUTLIER_FACTOR}x the median length are usually pasted logs or merged rows, and "
        "training cost grows with the longest rows.",
    )


def _chars(row: Row) -> int:
    return sum(len(m["content"]) for m in row.messages)


def clean_report(
    rows: list[Row], labels: tuple[str, ...] | None = None, *, progress: bool | None = None
) -> CleaningReport:
    """Every finding on `rows` (as loaded by load_data); indices in the report refer to this list. A progress bar
    shows from PROGRESS_FROM_ROWS rows on (progress=False hides it)."""
    median = statistics.median(_chars(r) for r in rows) if rows else 0
    counts = dict(Counter(r.label for r in rows if r.label is not None)) if labels else None
    keys = _row_keys(rows, progress)
    exact, near = _duplicates(keys)
    findings = [
        exact,
        near,
        _contradictions(keys),
        _empty_answers(keys),
        _rare_labels(rows, counts),
        _length_outliers(rows, median),
    ]
    assert tuple(f.step for f in findings) == CLEANING_STEPS
    rare = tuple(sorted({rows[g[0]].label for g in findings[4].groups}))
    report = CleaningReport(rows, {f.step: f for f in findings}, counts, round(median), rare)
    if report.imbalance and report.imbalance >= IMBALANCE_NOTE:
        report.notes.append(
            f"labels are imbalanced {report.imbalance:.1f}:1; splits are stratified so every "
            "label appears in each, but consider collecting more of the rare ones."
        )
    return report


@dataclass(frozen=True)
class CleaningResult:
    rows: list[Row]
    removed: dict[str, int]  # rows each chosen step removed, in the order applied

    def to_text(self) -> str:
        steps = ", ".join(f"{step}: {n}" for step, n in self.removed.items()) or "nothing chosen"
        return f"Cleaning removed {sum(self.removed.values())} rows ({steps}); {len(self.rows)} remain."


def apply_cleaning(report: CleaningReport, drop: tuple[str, ...] | list[str]) -> CleaningResult:
    """Remove the findings named in `drop`, step by step in CLEANING_STEPS order; a row counts for the first step."""
    unknown = [s for s in drop if s not in CLEANING_STEPS]
    if unknown:
        from ft_jupyter.config import ConfigError

        raise ConfigError(f"Unknown cleaning steps {unknown}; choose from {', '.join(CLEANING_STEPS)}.")
    gone: set[int] = set()
    removed = {}
    for step in CLEANING_STEPS:
        if step in drop:
            new = set(report.findings[step].drop) - gone
            removed[step] = len(new)
            gone |= new
    return CleaningResult([row for i, row in enumerate(report.rows) if i not in gone], removed)
