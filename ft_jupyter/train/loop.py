"""What every kind of run shares around `trainer.train()`: the emitter that records and hands out its events, quiet
libraries, the event and health callbacks, training until done or stopped, and saving and summing up into a
RunResult. `run.py` drives a supervised fine-tuning run through these, `classifier.py` a run of method "head".
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ft_jupyter.config import RunConfig
from ft_jupyter.train.cost import CostMeter
from ft_jupyter.train.events import Event, Finished, Note, Observer, RunStarted, Step, Stopped, Warning
from ft_jupyter.train.interrupts import graceful_interrupts
from ft_jupyter.train.store import RunDir


@dataclass
class RunResult:
    run_dir: RunDir
    state: str  # finished | stopped
    steps: int
    elapsed_s: float
    artifact_path: Path
    losses: list[tuple[int, float]]
    model: Any = field(default=None, repr=False)  # the trained model, still in memory
    tokenizer: Any = field(default=None, repr=False)
    reason: str = ""  # why it stopped, or ended early (early stopping)
    device_hours: float = 0.0
    cost: float = 0.0
    tokens_seen: int = 0
    train_runtime_s: float = 0.0
    warnings: list[str] = field(default_factory=list)  # health-check codes raised during the run
    # Memory in MiB (GPU: allocated tensors; CPU: resident): in use when training began (the loaded model), and the
    # peak while it trained. The peak is None where it cannot be measured apart from what ran before in the process.
    start_memory_mb: float | None = None
    peak_memory_mb: float | None = None
    eval_losses: list[tuple[int, float]] = field(default_factory=list)  # (step, loss on the validation split)

    @property
    def first_loss(self) -> float | None:
        return self.losses[0][1] if self.losses else None

    @property
    def last_loss(self) -> float | None:
        return self.losses[-1][1] if self.losses else None


def is_main_process() -> bool:
    # torchrun and accelerate set RANK; a plain process has none and is the main one.
    return int(os.environ.get("RANK", "0")) == 0


class Emitter:
    """Appends every event to events.jsonl and hands it to the observers; a failing observer never stops training.

    Outside the main process it stays silent, so a multi-process run writes one clean log.
    """

    def __init__(self, run: RunDir, observers: Iterable[Observer]):
        self.run = run
        self.observers = list(observers)
        self.main = is_main_process()
        self._broken: set[int] = set()
        self.warnings: list[str] = []
        self.step = 0  # the last step reported, for a failure that leaves no trainer behind

    def __call__(self, event: Event) -> None:
        if isinstance(event, Warning):
            self.warnings.append(event.code)
        if isinstance(event, Step):
            self.step = event.step
        if not self.main:
            return
        self.run.append_event(event.to_json())
        for i, observer in enumerate(self.observers):
            if i in self._broken:
                continue
            try:
                observer(event)
            except Exception as exc:  # a display bug must not cost the run
                self._broken.add(i)
                self.run.append_event(
                    Warning(
                        step=-1, code="observer_failed", message=f"{observer!r} raised {exc!r} and was detached"
                    ).to_json()
                )

    def status(self, state: str, message: str, **extra: Any) -> None:
        if self.main:
            self.run.set_status(state, message, **extra)


class _OncePerMessage(logging.Filter):
    def __init__(self):
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = str(record.msg)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


def quiet_libraries() -> None:
    import datasets
    from transformers.utils import logging as hf_logging

    # Per-split map() bars and weight loading/writing bars drown the training progress in notebooks.
    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    # bitsandbytes logs its 8-bit cast notice on every forward pass; once says it.
    bnb_logger = logging.getLogger("bitsandbytes.autograd._functions")
    if not any(isinstance(f, _OncePerMessage) for f in bnb_logger.filters):
        bnb_logger.addFilter(_OncePerMessage())


def run_callbacks(
    config: RunConfig, run: RunDir, emit: Emitter, stop: threading.Event, meter: CostMeter, precision, args
) -> tuple[Any, Any]:
    """The event callback (progress, checkpoints, the STOP file) and the health monitor for a trainer built with
    `args`; the cost meter learns how many devices it runs on."""
    from ft_jupyter.train.callbacks import EventCallback
    from ft_jupyter.train.health import HealthMonitor

    meter.devices = args.world_size
    events = EventCallback(
        run, emit, precision.device, stop, meter, checkpointing=args.save_strategy != "no", status=emit.status
    )
    return events, HealthMonitor(config, emit)


def train_until_done(trainer, stop: threading.Event, events, resume_from: Path | None) -> float:
    """Train until done or stopped, returning the seconds spent; the first Ctrl-C asks for a stop at the end of the
    step, a second one stops in the middle of it."""
    train_started = time.perf_counter()
    with graceful_interrupts(stop):
        try:
            trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
        except KeyboardInterrupt:
            events.stop_reason = "interrupted twice (Ctrl-C): stopped in the middle of a step"
    return time.perf_counter() - train_started


def checkpoint_step(checkpoint: Path | None) -> int:
    return int(checkpoint.name.rsplit("-", 1)[1]) if checkpoint is not None else 0


def run_started(
    run: RunDir,
    config: RunConfig,
    precision,
    loaded,
    data,
    meter: CostMeter,
    resume_from: Path | None,
    *,
    train_rows: int,
    steps: int,
    template_note: str,
    mixed_rows: int = 0,
) -> RunStarted:
    """The event every kind of run emits once its trainer is built: what trains, on what, for how many steps."""
    return RunStarted(
        run_id=run.run_id,
        config=config.to_dict(),
        device=precision.device,
        precision=precision.name,
        precision_reason=precision.reason,
        params_total=loaded.params_total,
        params_trainable=loaded.params_trainable,
        train_rows=train_rows,
        eval_rows=len(data.validation),
        max_steps=steps,
        template_note=template_note,
        optimizer=config.training.optimizer,
        num_devices=meter.devices,
        price_per_hour=meter.price_per_hour,
        mixed_rows=mixed_rows,
        resumed_from_step=checkpoint_step(resume_from),
        split_fingerprints=data.fingerprints(),
    )


def save_and_summarise(
    config: RunConfig, run: RunDir, emit: Emitter, trainer, tokenizer, events, health, meter: CostMeter, runtime: float
) -> RunResult:
    artifact = run.path / ("adapter" if config.method.uses_lora else "model")
    if trainer.args.world_size > 1:
        # Every process takes part: under ZeRO-3/FSDP the weights are sharded and saving gathers them first.
        trainer.save_model(str(artifact))
        if emit.main:
            tokenizer.save_pretrained(str(artifact))
    elif emit.main:
        trainer.model.save_pretrained(str(artifact))
        tokenizer.save_pretrained(str(artifact))
    elapsed = time.perf_counter() - meter.started
    step, max_steps = trainer.state.global_step, trainer.state.max_steps
    hours = meter.device_hours()
    cost = meter.cost(hours)
    money = f"; cost {cost:.2f} ({hours:.3f} device-hours)" if meter.price_per_hour else ""
    best = trainer.state.best_model_checkpoint if config.training.load_best_at_end else None
    if best:
        emit(
            Note(
                step=step,
                code="best_loaded",
                message=f"loaded the best checkpoint, {Path(best).name} (eval loss "
                f"{trainer.state.best_metric:.4f}), before saving.",
            )
        )
    if events.stop_reason:
        emit(
            Stopped(
                step=step,
                reason=events.stop_reason,
                elapsed_s=elapsed,
                artifact_path=str(artifact),
                device_hours=hours,
                cost=cost,
                checkpoint=events.stop_checkpoint,
            )
        )
        emit.status(
            "stopped",
            f"{events.stop_reason} at step {step}/{max_steps}; saved {artifact.name}/{money}",
            step=step,
            device_hours=hours,
            cost=cost,
        )
        state, reason = "stopped", events.stop_reason
    else:
        reason = health.early_stop_reason or ""
        train_loss = events.losses[-1][1] if events.losses else None
        emit(
            Finished(
                step=step,
                train_loss=train_loss,
                elapsed_s=elapsed,
                artifact_path=str(artifact),
                reason=reason,
                device_hours=hours,
                cost=cost,
                tokens_seen=int(trainer.state.num_input_tokens_seen or 0),
                train_runtime_s=runtime,
                best_checkpoint=best,
            )
        )
        why = f" ({reason})" if reason else ""
        emit.status(
            "finished",
            f"{step} steps in {elapsed:.0f} s{why}; saved {artifact.name}/{money}",
            step=step,
            device_hours=hours,
            cost=cost,
        )
        state = "finished"
    return RunResult(
        run,
        state,
        step,
        elapsed,
        artifact,
        events.losses,
        trainer.model,
        tokenizer,
        reason=reason,
        device_hours=hours,
        cost=cost,
        tokens_seen=int(trainer.state.num_input_tokens_seen or 0),
        train_runtime_s=runtime,
        warnings=list(emit.warnings),
        start_memory_mb=events.start_memory_mb,
        peak_memory_mb=events.peak_memory_mb,
        eval_losses=events.eval_losses,
    )
