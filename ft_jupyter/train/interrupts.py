"""Ctrl-C (or a Jupyter kernel interrupt, or SIGTERM) during training asks for a graceful stop instead of killing it.

The first signal sets the stop flag: training ends at the end of the current step, saves the adapter (and a
checkpoint when checkpointing is on) and the run is marked stopped. A second signal interrupts at once, for when a
step takes too long to wait for. Signal handlers can only be installed from the main thread; a run on a background
thread (`start_training`) is stopped through its handle instead, and the kernel stays free to take that request.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest(threading.Event):
    """A stop flag that carries its reason; `run_training` accepts it (or any threading.Event) as `stop_event`."""

    reason = "stop requested"

    def request(self, reason: str = "stop requested") -> None:
        self.reason = reason
        self.set()


@contextlib.contextmanager
def graceful_interrupts(stop: threading.Event) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # None means a handler installed from C; restoring the default is the closest we can do.
    previous = {sig: signal.getsignal(sig) or signal.SIG_DFL for sig in _SIGNALS}

    def handler(signum, frame):
        if stop.is_set():
            for sig, old in previous.items():
                signal.signal(sig, old)
            raise KeyboardInterrupt
        reason = "interrupted (Ctrl-C / kernel interrupt)" if signum == signal.SIGINT else "terminated (SIGTERM)"
        if isinstance(stop, StopRequest):
            stop.request(reason)
        else:
            stop.set()

    for sig in _SIGNALS:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
