"""Kernel-side training: RunConfig in, run folder out. Heavy libraries load when a run starts.

run_training(config, observers)      blocks until the run ends (Ctrl-C stops it gracefully)
start_training(config, observers)    the same on a background thread; returns a TrainingHandle at once
resume(run_dir)                      continues a stopped or interrupted run from its last checkpoint
RunStore(root).list_runs() / RunDir.status() / RunDir.read_events(offset)   the run folders, for any reader
"""

from ft_jupyter.train.background import TrainingHandle, resume_in_background, start_training
from ft_jupyter.train.events import EVENT_TYPES, Event, event_from_json
from ft_jupyter.train.interrupts import StopRequest
from ft_jupyter.train.loop import RunResult
from ft_jupyter.train.run import resume, run_training
from ft_jupyter.train.store import RunDir, RunStore

__all__ = [
    "EVENT_TYPES",
    "Event",
    "RunDir",
    "RunResult",
    "RunStore",
    "StopRequest",
    "TrainingHandle",
    "event_from_json",
    "resume",
    "resume_in_background",
    "run_training",
    "start_training",
]
