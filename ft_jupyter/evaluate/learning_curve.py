"""The data-size learning curve: the same config trained on growing subsets of its training split, each scored on
the same held-out test rows, to see where more rows stop paying.

Only `data.train_rows` changes between the runs: the validation and test rows are the same for every size (they are
split off before the subset is taken), and a larger subset keeps every row of a smaller one. Each size is a normal
run folder with its saved comparison, so the dashboards, the leaderboard and the checklist read them like any other.
The first size is also scored with the prompted baselines, drawn as the line to beat.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ft_jupyter.config import ConfigError, RunConfig
from ft_jupyter.evaluate.comparison import PROMPTED, VARIANTS


@dataclass
class CurvePoint:
    train_rows: int
    run_id: str
    score: float
    train_s: float | None
    steps: int | None

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class LearningCurve:
    metric: str
    test_rows: int
    points: list[CurvePoint]
    baselines: dict[str, float] = field(default_factory=dict)  # rung → score on the same test rows

    def gain_per_100_rows(self) -> list[float]:
        """Between consecutive sizes: points of the metric gained per 100 more training rows."""
        pairs = itertools.pairwise(self.points)
        return [100 * (b.score - a.score) / max(1, b.train_rows - a.train_rows) * 100 for a, b in pairs]

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "test_rows": self.test_rows,
            "points": [p.to_json() for p in self.points],
            "baselines": self.baselines,
            "gain_per_100_rows": self.gain_per_100_rows(),
        }

    def table(self) -> str:
        lines = [
            f"Learning curve: {self.metric} on the same {self.test_rows} held-out test rows",
            f"  {'train rows':>10} {self.metric:>10} {'gain / 100 rows':>16} {'train s':>8}  run",
        ]
        gains = [None, *self.gain_per_100_rows()]
        for point, gain in zip(self.points, gains, strict=True):
            gained = f"{gain:+.1f} pts" if gain is not None else "-"
            seconds = f"{point.train_s:.0f}" if point.train_s is not None else "-"
            lines.append(
                f"  {point.train_rows:>10} {100 * point.score:>9.1f}% {gained:>16} {seconds:>8}  {point.run_id}"
            )
        for rung, score in self.baselines.items():
            lines.append(f"  {VARIANTS[rung]:>29}: {100 * score:.1f}% (no training)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(self.table())


def learning_curve(
    config: RunConfig,
    sizes: Sequence[int] = (50, 150, 0),
    *,
    max_rows: int | None = None,
    shots: int | None = None,
    baselines: bool = True,
    progress: bool | None = None,
) -> LearningCurve:
    """Train `config` once per size (0 = the whole training split) and score each run on the test split.

    max_rows: score at most this many test rows (the same rows for every size). baselines: also score the prompted
    rungs once, on the first run. Runs go under config.runs_dir, named <name>-rows<N>.
    """
    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.evaluate.comparison import compare
    from ft_jupyter.train import run_training

    available = len(prepare(config.data, seed=config.training.seed, progress=False).train)
    wanted = _sizes(sizes, available)
    points, reference = [], {}
    metric, test_rows = "", 0
    for i, rows in enumerate(wanted):
        sized = config.replace(name=f"{config.name}-rows{rows}").with_overrides({"data.train_rows": rows})
        result = run_training(sized)
        if result.state != "finished":
            raise ConfigError(
                f"The {rows}-row run {result.run_dir.run_id} ended {result.state}; the curve needs "
                "every size trained to the end (see its dashboard or `ft-jupyter runs show`)."
            )
        rungs = None if (i == 0 and baselines) else ("finetuned",)
        comparison = compare(result, max_rows=max_rows, shots=shots, rungs=rungs, progress=progress)
        metric, test_rows = comparison.metric, comparison.n
        if rungs is None:
            reference = {rung: comparison.headline(rung) for rung in PROMPTED if rung in comparison.scores}
        points.append(
            CurvePoint(
                rows, result.run_dir.run_id, comparison.headline("finetuned"), result.train_runtime_s, result.steps
            )
        )
    return LearningCurve(metric, test_rows, points, reference)


def _sizes(sizes: Sequence[int], available: int) -> list[int]:
    """Distinct training-row counts in increasing order, 0 meaning all of them; too large a size is an error."""
    if not sizes:
        raise ConfigError("sizes is empty; give training-row counts such as (50, 150, 0), 0 meaning all rows.")
    out = []
    for size in sizes:
        if not isinstance(size, int) or size < 0:
            raise ConfigError(f"size {size!r} is not a row count; use whole numbers ≥ 1, or 0 for all rows.")
        if size > available:
            raise ConfigError(
                f"size {size} is more than the {available} rows of the training split; use at most "
                f"{available}, or 0 for all of them."
            )
        out.append(size or available)
    return sorted(set(out))
