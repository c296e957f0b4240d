"""Text progress for consoles and CLI runs: one line per reported step, throttled, with ETA.

Training reports through events rather than a bar, because its steps carry loss, rate and cost worth keeping in a log;
the lines share the duration format and the FT_JUPYTER_PROGRESS switch of `ft_jupyter.progress`, the one mechanism
that evaluation, conversion and data checks draw their bars with.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from ft_jupyter.progress import fmt_duration, progress_enabled
from ft_jupyter.train.events import Event

__all__ = ["ConsoleProgress", "fmt_duration"]


class ConsoleProgress:
    """An observer printing readable progress; the first steps always show, then at most one line per `every_s`."""

    def __init__(
        self, stream: TextIO | None = None, every_s: float = 2.0, always_first: int = 3, steps: bool | None = None
    ):
        """steps: print the step lines (default: unless FT_JUPYTER_PROGRESS=0); start, end and warnings always show."""
        self.stream = stream or sys.stdout
        self.every_s = every_s
        self.always_first = always_first
        self.steps = progress_enabled(steps)
        self._last = 0.0
        self._shown = 0

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def __call__(self, event: Event) -> None:
        data = event.to_json()
        kind = data["type"]
        if kind == "run_started":
            if data.get("resumed_from_step"):
                self._print(f"Resuming {data['run_id']} from its checkpoint at step {data['resumed_from_step']}.")
            self._print(
                f"Run {data['run_id']}: {data['params_trainable']:,} of {data['params_total']:,} parameters "
                f"train ({100 * data['params_trainable'] / max(1, data['params_total']):.2f}%), "
                f"{data['train_rows']} training rows, {data['max_steps']} steps on {data['device']} "
                f"in {data['precision']} ({data['precision_reason']})."
            )
        elif kind == "step" and self.steps:
            now = time.monotonic()
            last = data["step"] >= data["max_steps"]
            if self._shown < self.always_first or last or now - self._last >= self.every_s:
                self._last, self._shown = now, self._shown + 1
                loss = "nan" if data["loss"] is None else f"{data['loss']:.4f}"
                tps = f"{data['tokens_per_second']:.0f} tok/s" if data["tokens_per_second"] else "- tok/s"
                cost = f" | cost {data['cost_so_far']:.2f}" if data.get("cost_so_far") else ""
                self._print(
                    f"  step {data['step']:>4}/{data['max_steps']} | loss {loss} | lr "
                    f"{data['learning_rate'] or 0:.2e} | {tps} | elapsed {fmt_duration(data['elapsed_s'])} | "
                    f"ETA {fmt_duration(data['eta_s'])}{cost}"
                )
        elif kind == "evaluation":
            self._print(f"  eval at step {data['step']}: loss {data['eval_loss']:.4f}")
        elif kind == "note":
            self._print(f"  note: {data['message']}")
        elif kind == "warning":
            self._print(f"  WARNING ({data['code']}): {data['message']} {data['advice']}".rstrip())
        elif kind in ("finished", "stopped"):
            word = "Finished" if kind == "finished" else "Stopped"
            why = f" ({data['reason']})" if data.get("reason") else ""
            cost = f"; cost {data['cost']:.2f} for {data['device_hours']:.3f} device-hours" if data.get("cost") else ""
            self._print(
                f"{word}{why} at step {data['step']} after {fmt_duration(data['elapsed_s'])}; saved to "
                f"{data['artifact_path'] or 'nothing (no step finished)'}{cost}"
            )
        elif kind == "failed":
            self._print(f"FAILED at step {data['step']}: {data['error']} {data['advice']}".rstrip())
