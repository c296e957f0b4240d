"""The trainer callback that turns Hugging Face training state into typed events and honours stop requests."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable

from transformers import TrainerCallback

from ft_jupyter.train.cost import CostMeter
from ft_jupyter.train.events import Checkpoint, Evaluation, Event, Step
from ft_jupyter.train.interrupts import StopRequest
from ft_jupyter.train.store import RunDir


def reset_peak_memory(device: str) -> bool:
    """Start a fresh peak, so `memory_mb` reports the most this run has used rather than the process's history.

    On a CPU the peak is the kernel's resident high-water mark (VmHWM), which writing 5 to /proc/self/clear_refs
    resets to the current size; freed heap pages are handed back first, or the peak would sit on memory the
    allocator merely kept. False where the reset is not allowed: `memory_mb` then reports the current size."""
    if device == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats()
        return True
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def memory_mb(device: str, peak: bool = True) -> float | None:
    """MiB in use: the peak since the last `reset_peak_memory` (GPU: allocated tensors; CPU: resident memory), or the
    current size when `peak` is False."""
    if device == "cuda":
        import torch

        return (torch.cuda.max_memory_allocated() if peak else torch.cuda.memory_allocated()) / 2**20
    field = "VmHWM:" if peak else "VmRSS:"
    try:
        with open("/proc/self/status") as fh:
            line = next(line for line in fh if line.startswith(field))
        return int(line.split()[1]) / 1024
    except (OSError, ValueError, StopIteration):
        return None


def _float(value) -> float | None:
    # NaN and inf are passed on as they are: the health checks must see them.
    return None if value is None else float(value)


def _distributed() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _any_process(flag: bool, device) -> bool:
    import torch
    import torch.distributed as dist

    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


STATUS_EVERY_S = 10.0  # how often status.json learns the current step while a run trains


class EventCallback(TrainerCallback):
    def __init__(
        self,
        run: RunDir,
        emit: Callable[[Event], None],
        device: str,
        stop_event: threading.Event,
        meter: CostMeter,
        checkpointing: bool,
        status: Callable[..., None] | None = None,
    ):
        self.run = run
        self.emit = emit
        self.status = status
        self._status_at = -math.inf
        self.device = device
        self.stop_event = stop_event
        self.meter = meter
        self.checkpointing = checkpointing
        self.stop_reason: str | None = None
        self.stop_checkpoint: str | None = None
        self.started = time.perf_counter()
        self._last_time = self.started
        self._last_tokens = 0
        self._first_step_at: float | None = None
        self._first_step = 0
        self.losses: list[tuple[int, float]] = []
        self.eval_losses: list[tuple[int, float]] = []
        self.peak_tracked = False
        self.start_memory_mb: float | None = None  # in use when training began: the loaded model and data
        self.peak_memory_mb: float | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.peak_tracked = reset_peak_memory(self.device)
        self.start_memory_mb = memory_mb(self.device, peak=False)
        self.started = self._last_time = time.perf_counter()
        self._last_tokens = int(state.num_input_tokens_seen or 0)

    def on_step_end(self, args, state, control, **kwargs):
        if self._first_step_at is None:
            self._first_step_at = time.perf_counter()
            self._first_step = state.global_step
        requested = self.stop_event.is_set() or self.run.stop_requested()
        if _distributed():
            # Each process reads STOP at its own moment; if one left the loop a step before the others, they would
            # wait for it forever in the next all-reduce. So all stop when any asks, after the same step.
            requested = _any_process(requested, args.device)
        if requested:
            self.stop_reason = self.stop_reason or self._reason()
            control.should_training_stop = True
            # With checkpointing on, the stop leaves a checkpoint at this very step, so resume loses nothing.
            control.should_save = self.checkpointing
            if self.checkpointing:
                self.stop_checkpoint = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")

    def _reason(self) -> str:
        if self.run.stop_requested():
            text = self.run.stop_path.read_text(encoding="utf-8").strip()
            return text or "stop file written"
        return self.stop_event.reason if isinstance(self.stop_event, StopRequest) else "stop requested"

    def _eta(self, state) -> float | None:
        # The first step carries start-up costs; estimate the pace from the steps after it when there are some.
        now = time.perf_counter()
        if self._first_step_at is not None and state.global_step > self._first_step:
            pace = (now - self._first_step_at) / (state.global_step - self._first_step)
        elif state.global_step > self._first_step:
            pace = (now - self.started) / (state.global_step - self._first_step)
        else:
            return None
        return pace * max(0, state.max_steps - state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        now = time.perf_counter()
        if "loss" in logs:
            tokens = int(state.num_input_tokens_seen or 0)
            dt = now - self._last_time
            tps = (tokens - self._last_tokens) / dt if dt > 0 and tokens > self._last_tokens else None
            self._last_time, self._last_tokens = now, tokens
            loss = _float(logs.get("loss"))
            self.losses.append((state.global_step, loss))
            memory = memory_mb(self.device, peak=self.peak_tracked)
            if self.peak_tracked and memory is not None:
                # The kernel folds the current size into VmHWM only at some events, so a read can come out a little
                # below an earlier one; the peak so far is the larger.
                memory = self.peak_memory_mb = max(self.peak_memory_mb or 0.0, memory)
            self.emit(
                Step(
                    step=state.global_step,
                    max_steps=state.max_steps,
                    epoch=float(state.epoch or 0.0),
                    loss=loss,
                    learning_rate=_float(logs.get("learning_rate")),
                    grad_norm=_float(logs.get("grad_norm")),
                    tokens_seen=tokens,
                    tokens_per_second=tps,
                    memory_mb=memory,
                    elapsed_s=now - self.started,
                    eta_s=self._eta(state),
                    cost_so_far=self.meter.cost(),
                )
            )
            if self.status is not None and now - self._status_at >= STATUS_EVERY_S:
                # Readers listing runs see the step without parsing events.jsonl; throttled, it costs nothing.
                self._status_at = now
                self.status(
                    "running",
                    f"training, step {state.global_step}/{state.max_steps}",
                    step=state.global_step,
                    max_steps=state.max_steps,
                )
        if "eval_loss" in logs:
            metrics = {k: float(v) for k, v in logs.items() if k.startswith("eval_") and isinstance(v, (int, float))}
            self.eval_losses.append((state.global_step, float(logs["eval_loss"])))
            self.emit(Evaluation(step=state.global_step, eval_loss=_float(logs["eval_loss"]), metrics=metrics))

    def on_save(self, args, state, control, **kwargs):
        path = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        self.emit(Checkpoint(step=state.global_step, path=path))
