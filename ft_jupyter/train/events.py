"""Typed training events. Observers (dashboards, console progress, the run store) receive these and nothing else.

The schema only grows: new fields come with defaults and nothing is renamed, so old events.jsonl files still load.
Observers are called on the thread that trains (a background thread under `start_training`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass
class Event:
    type: ClassVar[str] = "event"
    time: float = field(default_factory=time.time, kw_only=True)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, **dataclasses.asdict(self)}


@dataclass
class RunStarted(Event):
    type: ClassVar[str] = "run_started"
    run_id: str
    config: dict[str, Any]
    device: str
    precision: str
    precision_reason: str
    params_total: int
    params_trainable: int
    train_rows: int
    eval_rows: int
    max_steps: int
    template_note: str = ""
    optimizer: str = ""
    num_devices: int = 1
    price_per_hour: float = 0.0
    mixed_rows: int = 0  # general-text rows mixed into training (forgetting guard)
    resumed_from_step: int = 0  # > 0 when this run continues from a checkpoint
    split_fingerprints: dict[str, str] = field(default_factory=dict)  # split → hash of its rows (leaderboards)


@dataclass
class Step(Event):
    type: ClassVar[str] = "step"
    step: int
    max_steps: int
    epoch: float
    loss: float | None
    learning_rate: float | None
    grad_norm: float | None
    tokens_seen: int
    tokens_per_second: float | None
    memory_mb: float | None
    elapsed_s: float
    eta_s: float | None
    cost_so_far: float = 0.0  # device-hours so far × training.price_per_hour


@dataclass
class Evaluation(Event):
    type: ClassVar[str] = "evaluation"
    step: int
    eval_loss: float | None
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class Checkpoint(Event):
    type: ClassVar[str] = "checkpoint"
    step: int
    path: str


@dataclass
class Warning(Event):  # noqa: A001  (a training warning, shadowing the builtin only inside this module)
    type: ClassVar[str] = "warning"
    step: int
    code: str
    message: str
    advice: str = ""


@dataclass
class Finished(Event):
    type: ClassVar[str] = "finished"
    step: int
    train_loss: float | None
    elapsed_s: float
    artifact_path: str
    reason: str = ""  # why it ended before max_steps, e.g. early stopping
    device_hours: float = 0.0
    cost: float = 0.0
    tokens_seen: int = 0
    train_runtime_s: float = 0.0  # time inside the training loop, without loading
    best_checkpoint: str | None = None  # the checkpoint loaded at the end (training.load_best_at_end)


@dataclass
class Stopped(Event):
    type: ClassVar[str] = "stopped"
    step: int
    reason: str
    elapsed_s: float
    artifact_path: str
    device_hours: float = 0.0
    cost: float = 0.0
    checkpoint: str | None = None  # resumable checkpoint saved at the stop, if checkpointing is on


@dataclass
class Failed(Event):
    type: ClassVar[str] = "failed"
    step: int
    error: str
    advice: str = ""


@dataclass
class Note(Event):
    """Something the run did on its own that a learner should see (a block unfrozen, the best checkpoint loaded)."""

    type: ClassVar[str] = "note"
    step: int
    code: str
    message: str


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls for cls in (RunStarted, Step, Evaluation, Checkpoint, Warning, Note, Finished, Stopped, Failed)
}

Observer = Callable[[Event], None]


def event_from_json(data: dict[str, Any]) -> Event:
    """Rebuild a typed event from its JSON form; fields this version does not know (a newer writer) are dropped."""
    data = dict(data)
    cls = EVENT_TYPES[data.pop("type")]
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})
