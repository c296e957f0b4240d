"""Train on a background thread so a notebook kernel stays responsive (Stop buttons, live widgets, other cells).

    handle = start_training(config, [dashboard])   # returns at once; the run folder already exists
    handle.run_dir                                 # runs/<run-id>/, for RunDir.read_events / status
    handle.stop("enough")                          # graceful: ends after the current step, saves the adapter
    result = handle.wait()                         # the RunResult; re-raises the run's exception if it failed
    handle.done, handle.result, handle.error       # poll without blocking

Why a thread rather than a UI-event library: the heavy work happens in PyTorch kernels that release the GIL, so the
kernel's own thread keeps answering comm messages (widget clicks) and executing cells while training runs, with no
changes to how observers are written. Observers are called on the training thread; widget updates from there are
delivered by ipywidgets' comm machinery. Ctrl-C / kernel interrupt reaches only the main thread, so in the background
it does not touch training: use `handle.stop()` (or write a STOP file, as the sidebar does).

The thread is not a daemon: a script that ends while training still runs waits for it rather than killing it
mid-save.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from ft_jupyter.config import RunConfig
from ft_jupyter.train.events import Observer
from ft_jupyter.train.interrupts import StopRequest
from ft_jupyter.train.loop import RunResult
from ft_jupyter.train.run import create_run, resume, run_training
from ft_jupyter.train.store import RunDir


class TrainingHandle:
    def __init__(self, run_dir: RunDir):
        self.run_dir = run_dir
        self.result: RunResult | None = None
        self.error: BaseException | None = None
        self._stop = StopRequest()
        self._thread: threading.Thread | None = None

    def _start(self, target: Callable[[StopRequest], RunResult]) -> TrainingHandle:
        def main() -> None:
            try:
                self.result = target(self._stop)
            except BaseException as exc:  # already recorded in the run folder as a Failed event
                self.error = exc

        self._thread = threading.Thread(target=main, name=f"ft-jupyter {self.run_dir.run_id}")
        self._thread.start()
        return self

    def stop(self, reason: str = "stopped from the notebook") -> None:
        """Ask for a graceful stop at the end of the current step; returns at once (then `wait()`)."""
        self._stop.request(reason)

    @property
    def done(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    @property
    def state(self) -> str:
        return self.run_dir.status().get("state", "unknown")

    def wait(self, timeout: float | None = None) -> RunResult | None:
        """Block until the run ends (or `timeout` seconds pass: then None); re-raise the run's exception."""
        if self._thread is not None:
            self._thread.join(timeout)
        if self.error is not None:
            raise self.error
        return self.result

    def __repr__(self) -> str:
        return f"<TrainingHandle {self.run_dir.run_id}: {self.state}>"


def start_training(config: RunConfig, observers: Iterable[Observer] = ()) -> TrainingHandle:
    """Start `run_training(config, observers)` on a background thread and return its handle at once."""
    handle = TrainingHandle(create_run(config))
    observers = list(observers)
    return handle._start(lambda stop: run_training(config, observers, stop_event=stop, run=handle.run_dir))


def resume_in_background(run: RunDir, observers: Iterable[Observer] = ()) -> TrainingHandle:
    """`resume(run)` on a background thread."""
    handle = TrainingHandle(run)
    observers = list(observers)
    return handle._start(lambda stop: resume(run, observers, stop_event=stop))
