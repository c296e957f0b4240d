"""Curves of one run, built from its events, plus the smoothing and downsampling the charts apply before drawing.

Pure Python and numpy: the dashboard, the run comparison and the tests share it, and none of it needs a widget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ft_jupyter.train.store import END_STATES


def _num(value: Any) -> float:
    """Event numbers can be None (not measured) or NaN (a diverged loss); both become NaN so a chart shows a gap."""
    return float("nan") if value is None else float(value)


@dataclass
class Series:
    """x/y points appended one at a time; numpy views are made only when drawing."""

    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)

    def add(self, x: float, y: Any) -> None:
        self.x.append(float(x))
        self.y.append(_num(y))

    def __len__(self) -> int:
        return len(self.x)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.x, dtype=float), np.asarray(self.y, dtype=float)


@dataclass
class RunCurves:
    """Everything the dashboard draws, updated by `apply(event)` with the event's JSON form."""

    loss: Series = field(default_factory=Series)
    eval_loss: Series = field(default_factory=Series)
    learning_rate: Series = field(default_factory=Series)
    grad_norm: Series = field(default_factory=Series)
    tokens_per_second: Series = field(default_factory=Series)
    run_id: str = ""
    config: dict[str, Any] | None = None
    started: dict[str, Any] | None = None
    last_step: dict[str, Any] | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] | None = None  # the finished / stopped / failed event

    def apply(self, event: dict[str, Any]) -> str:
        """Take one event (as in events.jsonl) into the curves; returns its type."""
        kind = event["type"]
        if kind == "run_started":
            self.started, self.run_id, self.config = event, event["run_id"], event["config"]
        elif kind == "step":
            step = event["step"]
            self.last_step = event
            self.loss.add(step, event["loss"])
            self.learning_rate.add(step, event["learning_rate"])
            self.grad_norm.add(step, event["grad_norm"])
            self.tokens_per_second.add(step, event["tokens_per_second"])
        elif kind == "evaluation":
            self.eval_loss.add(event["step"], event["eval_loss"])
        elif kind == "warning":
            self.warnings.append(event)
        elif kind == "note":
            self.notes.append(event)
        elif kind in END_STATES:
            self.end = event
        return kind

    @property
    def state(self) -> str:
        if self.end is not None:
            return self.end["type"]
        return "starting" if self.started is None and self.last_step is None else "running"

    @classmethod
    def from_events(cls, events: list[dict[str, Any]]) -> RunCurves:
        curves = cls()
        for event in events:
            curves.apply(event)
        return curves


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """Exponential moving average with start-up bias correction (as TensorBoard draws it); NaNs are skipped.

    `weight` 0 returns the values unchanged; 0.9 averages over roughly the last ten points.
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight = {weight!r} must be ≥ 0 and < 1.")
    out = np.full(len(values), np.nan)
    if weight == 0.0:
        return np.asarray(values, dtype=float).copy()
    avg, norm = 0.0, 0.0
    for i, v in enumerate(values):
        if math.isnan(v):
            continue
        avg = weight * avg + (1.0 - weight) * v
        norm = weight * norm + (1.0 - weight)
        out[i] = avg / norm
    return out


def downsample(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most `max_points` points: the minimum and maximum of each bucket, so loss spikes stay visible.

    The first and last points are always kept, so the curve starts and ends where the data does. Vectorised: it
    runs at every redraw of a live chart.
    """
    n = len(x)
    if n <= max_points or n < 3:
        return x, y
    inner = n - 2
    buckets = max(1, (max_points - 2) // 2)
    size = -(-inner // buckets)  # ceil
    rows = -(-inner // size)
    body = y[1 : n - 1]
    nan = np.isnan(body)
    low = np.full(rows * size, np.inf)
    high = np.full(rows * size, -np.inf)
    low[:inner] = np.where(nan, np.inf, body)
    high[:inner] = np.where(nan, -np.inf, body)
    starts = np.arange(rows) * size + 1
    picks = np.concatenate(
        [
            [0],
            starts + low.reshape(rows, size).argmin(axis=1),
            starts + high.reshape(rows, size).argmax(axis=1),
            [n - 1],
        ]
    )
    idx = np.unique(np.minimum(picks, n - 1))
    return x[idx], y[idx]


class RunningEma:
    """`ema` kept up to date one point at a time, so a live chart never recomputes the whole history."""

    def __init__(self, weight: float):
        ema(np.zeros(0), weight)  # validates the weight
        self.weight = weight
        self.values: list[float] = []
        self._avg = self._norm = 0.0

    def extend(self, values: list[float]) -> None:
        w = self.weight
        for v in values:
            if math.isnan(v):
                self.values.append(float("nan"))
                continue
            self._avg = w * self._avg + (1.0 - w) * v
            self._norm = w * self._norm + (1.0 - w)
            self.values.append(self._avg / self._norm)

    def follow(self, values: list[float]) -> np.ndarray:
        """The smoothed series for `values`, which must extend the values seen so far."""
        self.extend(values[len(self.values) :])
        return np.asarray(self.values, dtype=float)
