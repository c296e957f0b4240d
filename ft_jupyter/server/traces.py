"""What the run list shows of each run's events, read once for every poller.

A class of thirty sidebars polls one runs root every few seconds. Each run's events.jsonl is read by the server
incrementally (from where it stopped last time, only when the file grew) into a small summary: progress, ETA, cost,
how it ended, and a loss series thinned to a bounded number of points. Every poller gets that summary inside the
run list, so a poll costs the same for a 40-step run and a 40,000-step one, and nobody re-sends a run's history.
status.json is parsed once per change as well.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ft_jupyter.server.base import encode
from ft_jupyter.train.store import END_STATES, LIVE_STATES, UNKNOWN_STATE, RunDir

# A run's files must have been still this long before its summary is kept: two changes within one tick of the
# file system's clock would otherwise share an mtime, and the second would go unseen.
SETTLED_NS = 2_000_000_000
# The loss series keeps between MAX_POINTS and 2 × MAX_POINTS evenly spaced points (plus the latest one), each loss
# to 4 significant digits: the sidebar draws a 120-pixel sparkline, and a class view lists every run's.
MAX_POINTS = 30


@dataclass
class Trace:
    """A run's events so far, summarised; `offset` is where the next read starts."""

    inode: int = -1
    offset: int = 0
    step: int | None = None
    max_steps: int | None = None
    eta_s: float | None = None
    cost: float | None = None
    end: str | None = None
    last_loss: tuple[int, float] | None = None
    points: list[tuple[int, float]] = field(default_factory=list)
    stride: int = 1
    seen: int = 0  # finite losses seen, to keep every stride-th

    def add(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "run_started":
            self.max_steps = event.get("max_steps", self.max_steps)
        elif kind == "step":
            self.step = event.get("step", self.step)
            self.max_steps = event.get("max_steps", self.max_steps)
            self.eta_s = event.get("eta_s")
            self.cost = event.get("cost_so_far", self.cost)
            self._loss(event.get("step"), event.get("loss"))
        elif kind in END_STATES:
            self.end = kind
            self.eta_s = None
            self.cost = event.get("cost", self.cost)
            self.step = event.get("step", self.step)

    def _loss(self, step: Any, loss: Any) -> None:
        if not isinstance(step, int) or not isinstance(loss, (int, float)) or loss != loss or abs(loss) == float("inf"):
            return
        self.last_loss = (step, float(f"{loss:.4g}"))
        if self.seen % self.stride == 0:
            self.points.append(self.last_loss)
            if len(self.points) > 2 * MAX_POINTS:
                self.points = self.points[::2]
                self.stride *= 2
        self.seen += 1

    def to_json(self) -> dict[str, Any]:
        loss = list(self.points)
        if self.last_loss is not None and (not loss or loss[-1] != self.last_loss):
            loss.append(self.last_loss)
        return {
            "step": self.step,
            "max_steps": self.max_steps,
            "eta_s": self.eta_s,
            "cost": self.cost,
            "end": self.end,
            "loss": [list(point) for point in loss],
        }


class RunCache:
    """Per-run traces and parsed status.json, keyed by run folder; refreshed only when the files change."""

    def __init__(self) -> None:
        self._traces: dict[Path, Trace] = {}
        self._status: dict[Path, tuple[tuple[int, int, int], dict[str, Any]]] = {}
        self._summaries: dict[Path, tuple[tuple, tuple[dict[str, Any], str]]] = {}

    def summary(self, run: RunDir, build: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], str]:
        """`build()`'s summary of an ended run and its JSON text, kept until the run's folder, its events or its
        export change (three stats per poll instead of reading and encoding it again); a live run or a running
        export is built every time."""
        key = _settled_signature(run.path)
        cached = self._summaries.get(run.path)
        if key is not None and cached is not None and cached[0] == key:
            return cached[1]
        data = build()
        found = (data, encode(data))
        ended = data.get("state") not in (*LIVE_STATES, UNKNOWN_STATE)
        if key is not None and ended and (data.get("export") or {}).get("state") != "running":
            self._summaries[run.path] = (key, found)
        return found

    def trace(self, run: RunDir) -> dict[str, Any]:
        trace = self._traces.get(run.path)
        try:
            info = os.stat(run.events_path)
        except FileNotFoundError:
            return Trace().to_json()
        if trace is None or trace.inode != info.st_ino or info.st_size < trace.offset:
            trace = self._traces[run.path] = Trace(inode=info.st_ino)
        if info.st_size > trace.offset:
            events, trace.offset = run.read_intact_events(trace.offset)
            for event in events:
                trace.add(event)
        return trace.to_json()

    def status(self, run: RunDir) -> dict[str, Any]:
        """`run.status()`, with status.json parsed again only when it was replaced or changed (whether a running
        run's process is still alive is still asked every time)."""
        path = run.path / "status.json"
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return run.status()
        key = (info.st_ino, info.st_mtime_ns, info.st_size)
        cached = self._status.get(run.path)
        if cached is None or cached[0] != key:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (FileNotFoundError, json.JSONDecodeError):
                return run.status()
            cached = self._status[run.path] = (key, data)
        return run.checked_status(cached[1])


def _settled_signature(folder: Path) -> tuple | None:
    """What changes when anything the run list shows of a run changes: the folder's entries (status.json and STOP
    are replaced or created, adapter/ appears), events.jsonl's size and the export folder's entries. None while
    any of them changed within the last SETTLED_NS (or cannot be read)."""
    try:
        entry = os.stat(folder)
    except OSError:
        return None
    parts, newest = [entry.st_ino, entry.st_mtime_ns], entry.st_mtime_ns
    for name in ("events.jsonl", "export"):
        try:
            info = os.stat(folder / name)
        except FileNotFoundError:
            parts += [-1, -1]
            continue
        except OSError:
            return None
        parts += [info.st_size if name == "events.jsonl" else info.st_ino, info.st_mtime_ns]
        newest = max(newest, info.st_mtime_ns)
    if time.time_ns() - newest < SETTLED_NS:
        return None
    return tuple(parts)
