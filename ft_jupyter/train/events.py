"""Typed training events. Observers (dashboards, console progress, the run store) receive these and nothing else."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar


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


@dataclass
class Stopped(Event):
    type: ClassVar[str] = "stopped"
    step: int
    reason: str
    elapsed_s: float
    artifact_path: str


@dataclass
class Failed(Event):
    type: ClassVar[str] = "failed"
    step: int
    error: str
    advice: str = ""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls for cls in (RunStarted, Step, Evaluation, Checkpoint, Warning, Finished, Stopped, Failed)
}

Observer = Callable[[Event], None]


def event_from_json(data: dict[str, Any]) -> Event:
    data = dict(data)
    cls = EVENT_TYPES[data.pop("type")]
    return cls(**data)
