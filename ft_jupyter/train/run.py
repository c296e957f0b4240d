"""`run_training(config)`: one supervised fine-tuning run, top to bottom; `resume(run)` continues one.

Everything a run does is reported as typed events to the observers and to `runs/<run-id>/events.jsonl`, and its
`status.json` always says where it stands (queued, running, stopped, finished, failed). In a multi-process launch
only the main process writes; set FT_JUPYTER_RUN_ID so every process agrees on the run folder.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ft_jupyter.config import ConfigError, RunConfig
from ft_jupyter.train.cost import CostMeter
from ft_jupyter.train.events import Event, Failed, Finished, Note, Observer, RunStarted, Step, Stopped, Warning
from ft_jupyter.train.interrupts import StopRequest, graceful_interrupts
from ft_jupyter.train.store import RunDir, RunStore, current_user

RUN_ID_ENV = "FT_JUPYTER_RUN_ID"

# TRL reads a property that transformers 5 renamed, and transformers warns on every run: noise in a learner's
# notebook that says nothing about their run. Only that one message is silenced.
warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning)


@dataclass
class RunResult:
    run_dir: RunDir
    state: str                      # finished | stopped
    steps: int
    elapsed_s: float
    artifact_path: Path
    losses: list[tuple[int, float]]
    model: Any = field(default=None, repr=False)       # the trained model, still in memory
    tokenizer: Any = field(default=None, repr=False)
    reason: str = ""                # why it stopped, or ended early (early stopping)
    device_hours: float = 0.0
    cost: float = 0.0
    tokens_seen: int = 0
    train_runtime_s: float = 0.0
    warnings: list[str] = field(default_factory=list)  # health-check codes raised during the run

    @property
    def first_loss(self) -> float | None:
        return self.losses[0][1] if self.losses else None

    @property
    def last_loss(self) -> float | None:
        return self.losses[-1][1] if self.losses else None


def is_main_process() -> bool:
    # torchrun and accelerate set RANK; a plain process has none and is the main one.
    return int(os.environ.get("RANK", "0")) == 0


class _Emitter:
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
                self.run.append_event(Warning(step=-1, code="observer_failed",
                                              message=f"{observer!r} raised {exc!r} and was detached").to_json())

    def status(self, state: str, message: str, **extra: Any) -> None:
        if self.main:
            self.run.set_status(state, message, **extra)


def create_run(config: RunConfig) -> RunDir:
    run_id = os.environ.get(RUN_ID_ENV) or None
    if is_main_process():
        return RunStore(config.runs_dir).create(config, run_id=run_id)
    if run_id is None:
        raise ConfigError(f"This is process RANK={os.environ.get('RANK')} of a multi-process launch, and the processes "
                          f"cannot agree on a run folder: set {RUN_ID_ENV}, e.g. "
                          f"{RUN_ID_ENV}=$(date +%Y%m%d-%H%M%S)-myrun accelerate launch ...")
    return RunDir(Path(config.runs_dir) / run_id)


def _oom_advice(config: RunConfig) -> str:
    t = config.training
    return (f"Out of memory. Try: batch_size {max(1, t.batch_size // 2)} with grad_accum {t.grad_accum * 2} (same "
            f"effective batch); gradient_checkpointing: true; method qlora (4-bit base); or max_seq_len "
            f"{max(64, t.max_seq_len // 2)}.")


def _is_out_of_memory(exc: BaseException) -> bool:
    text = str(exc).lower()
    # CUDA says "out of memory"; the CPU allocator says "can't allocate memory"; MemoryError is Python's own.
    return isinstance(exc, MemoryError) or "out of memory" in text or "can't allocate memory" in text


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


def run_training(config: RunConfig, observers: Iterable[Observer] = (), *, stop_event: threading.Event | None = None,
                 run: RunDir | None = None, resume_from: Path | None = None) -> RunResult:
    """Train as `config` says, writing everything to a new run folder under `config.runs_dir` (or `run`).

    Returns when training finishes or is stopped (STOP file, `stop_event`, Ctrl-C); raises on failure, after marking
    the run failed with the message. `resume_from` is a checkpoint folder of `run` to continue from.
    """
    from ft_jupyter.data.preflight import preflight
    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.train.translate import (check_run_needs, choose_precision, fit_steps_to_packing, sft_config,
                                            total_steps)

    run = run or create_run(config)
    emit = _Emitter(run, observers)
    stop = stop_event or StopRequest()
    # Device-hours of earlier sessions of this run (a resume) keep counting toward its cost.
    meter = CostMeter(config.training.price_per_hour, prior_hours=float(run.status().get("device_hours", 0.0)))
    trainer = None
    emit.status("running", "loading model and data")
    try:
        if config.method.method == "head":
            # A new classification head on the backbone: a plain transformers Trainer on label ids (classifier.py).
            from ft_jupyter.train.classifier import train_head

            return train_head(config, run, emit, stop, meter, resume_from)
        import torch

        from ft_jupyter.train.loading import load_for_training
        from ft_jupyter.train.mixing import mix_general_text
        from ft_jupyter.train.trainer import build_trainer

        quiet_libraries()
        torch.manual_seed(config.training.seed)
        # Data: the task's splits, with general text mixed into training only (a guard against forgetting).
        data = prepare(config.data, seed=config.training.seed)
        train_rows, mixed = mix_general_text(data.train, config.data, seed=config.training.seed)
        # Model: precision from the hardware, then quantization and the method (LoRA, full, freeze).
        precision = choose_precision(config)
        loaded = load_for_training(config, precision)
        checked = preflight(data, loaded.tokenizer, config)  # chat template, lengths, data findings left in
        if checked.template:
            loaded.tokenizer.chat_template = checked.template
        # The one SFTConfig and the trainer, with our events, health checks and stop handling.
        steps = total_steps(config, len(train_rows))
        check_run_needs(config, has_eval=bool(data.validation))
        args = sft_config(config, precision, run.checkpoints_dir, steps, has_eval=bool(data.validation))
        events, health = run_callbacks(config, run, emit, stop, meter, precision, args)
        trainer = build_trainer(config, loaded.model, loaded.tokenizer, args, train_rows, data.validation,
                                [events, health], emit)
        # Packed rows make an epoch fewer steps, known once TRL has packed them (unchanged without packing).
        steps = fit_steps_to_packing(config, trainer.args, len(trainer.train_dataset))
        emit(RunStarted(run_id=run.run_id, config=config.to_dict(), device=precision.device,
                        precision=precision.name, precision_reason=precision.reason,
                        params_total=loaded.params_total, params_trainable=loaded.params_trainable,
                        train_rows=len(train_rows), eval_rows=len(data.validation), max_steps=steps,
                        template_note=checked.template_note, optimizer=config.training.optimizer,
                        num_devices=meter.devices, price_per_hour=meter.price_per_hour, mixed_rows=mixed,
                        resumed_from_step=checkpoint_step(resume_from),
                        split_fingerprints=data.fingerprints()))
        for message in checked.warnings:
            emit(Warning(step=0, code="data", message=message))
        emit.status("running", f"training {steps} steps on {precision.device} ({precision.name})", max_steps=steps)
        runtime = train_until_done(trainer, stop, events, resume_from)
        return save_and_summarise(config, run, emit, trainer, loaded.tokenizer, events, health, meter, runtime)
    except BaseException as exc:
        _record_failure(config, emit, exc, trainer.state.global_step if trainer is not None else emit.step, meter)
        raise


def run_callbacks(config: RunConfig, run: RunDir, emit: "_Emitter", stop: threading.Event, meter: CostMeter,
                  precision, args) -> tuple[Any, Any]:
    """The event callback (progress, checkpoints, the STOP file) and the health monitor for a trainer built with
    `args`; the cost meter learns how many devices it runs on."""
    from ft_jupyter.train.callbacks import EventCallback
    from ft_jupyter.train.health import HealthMonitor

    meter.devices = args.world_size
    events = EventCallback(run, emit, precision.device, stop, meter, checkpointing=args.save_strategy != "no",
                           status=emit.status)
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


def save_and_summarise(config: RunConfig, run: RunDir, emit: _Emitter, trainer, tokenizer, events, health,
                       meter: CostMeter, runtime: float) -> RunResult:
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
        emit(Note(step=step, code="best_loaded", message=f"loaded the best checkpoint, {Path(best).name} (eval loss "
                                                         f"{trainer.state.best_metric:.4f}), before saving."))
    if events.stop_reason:
        emit(Stopped(step=step, reason=events.stop_reason, elapsed_s=elapsed, artifact_path=str(artifact),
                     device_hours=hours, cost=cost, checkpoint=events.stop_checkpoint))
        emit.status("stopped", f"{events.stop_reason} at step {step}/{max_steps}; saved {artifact.name}/{money}",
                    step=step, device_hours=hours, cost=cost)
        state, reason = "stopped", events.stop_reason
    else:
        reason = health.early_stop_reason or ""
        train_loss = events.losses[-1][1] if events.losses else None
        emit(Finished(step=step, train_loss=train_loss, elapsed_s=elapsed, artifact_path=str(artifact), reason=reason,
                      device_hours=hours, cost=cost, tokens_seen=int(trainer.state.num_input_tokens_seen or 0),
                      train_runtime_s=runtime, best_checkpoint=best))
        why = f" ({reason})" if reason else ""
        emit.status("finished", f"{step} steps in {elapsed:.0f} s{why}; saved {artifact.name}/{money}", step=step,
                    device_hours=hours, cost=cost)
        state = "finished"
    return RunResult(run, state, step, elapsed, artifact, events.losses, trainer.model, tokenizer, reason=reason,
                     device_hours=hours, cost=cost, tokens_seen=int(trainer.state.num_input_tokens_seen or 0),
                     train_runtime_s=runtime, warnings=list(emit.warnings))


def _record_failure(config: RunConfig, emit: _Emitter, exc: BaseException, step: int, meter: CostMeter) -> None:
    """Leave the run folder saying what happened, whatever happened."""
    hours = meter.device_hours()
    if isinstance(exc, KeyboardInterrupt):  # before training started: nothing to save
        reason = "interrupted before training started"
        emit(Stopped(step=step, reason=reason, elapsed_s=time.perf_counter() - meter.started, artifact_path="",
                     device_hours=hours, cost=meter.cost(hours)))
        emit.status("stopped", reason, step=step, device_hours=hours)
        return
    advice = _oom_advice(config) if _is_out_of_memory(exc) else ""
    message = str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"
    emit(Failed(step=step, error=message, advice=advice))
    emit.status("failed", message + (f" {advice}" if advice else ""), device_hours=hours,
                traceback="".join(traceback.format_exception(exc))[-4000:])


def resume(run: RunDir | str | Path, observers: Iterable[Observer] = (), *,
           stop_event: threading.Event | None = None) -> RunResult:
    """Continue a stopped, failed or interrupted run from its last checkpoint, in the same folder, to the same final
    step. Without a checkpoint (training.save_steps was 0) it starts again from step 0."""
    run = run if isinstance(run, RunDir) else RunDir(Path(run))
    if not (run.path / "config.yaml").is_file():
        raise ConfigError(f"{run.path} is not a run folder (no config.yaml).")
    refusal = run.write_refusal(current_user())
    if refusal:
        raise ConfigError(f"Cannot resume: {refusal}")
    status = run.status()
    if status["state"] == "finished":
        raise ConfigError(f"Run {run.run_id} already finished ({status.get('message', '')}); start a new run to "
                          "train further.")
    if status["state"] == "running":
        raise ConfigError(f"Run {run.run_id} is still running (pid {status.get('pid')}); stop it first with "
                          f"`ft-jupyter runs stop {run.run_id}`.")
    run.clear_stop()
    checkpoint = run.last_checkpoint()
    if checkpoint is None:
        run.append_event(Note(step=0, code="resume", message="no checkpoint to resume from (training.save_steps "
                                                             "was 0): starting again from step 0.").to_json())
    return run_training(run.config(), observers, stop_event=stop_event, run=run, resume_from=checkpoint)
