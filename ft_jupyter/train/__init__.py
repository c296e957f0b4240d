"""Kernel-side training: RunConfig in, run folder out. Heavy libraries load when a run starts."""

from ft_jupyter.train.events import EVENT_TYPES, Event, event_from_json
from ft_jupyter.train.run import RunResult, run_training
from ft_jupyter.train.store import RunDir, RunStore

__all__ = ["EVENT_TYPES", "Event", "RunDir", "RunResult", "RunStore", "event_from_json", "run_training"]
