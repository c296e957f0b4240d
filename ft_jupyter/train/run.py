"""`run_training(config)`: one supervised fine-tuning run, top to bottom; `resume(run)` continues one.

Everything a run does is reported as typed events to the observers and to `runs/<run-id>/events.jsonl`, and its
`status.json` always says where it stands (queued, running, stopped, finished, failed). In a multi-process launch
only the main process writes; set FT_JUPYTER_RUN_ID so every process agrees on the run folder.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
import warnings
from collections.abc import Iterable
from pathlib import Path

from ft_jupyter.config import ConfigError, RunConfig
from ft_jupyter.train.cost import CostMeter
from ft_jupyter.train.events import Failed, Note, Observer, Stopped, Warning
from ft_jupyter.train.interrupts import StopRequest
from ft_jupyter.train.loop import (
    Emitter,
    RunResult,
    is_main_process,
    quiet_libraries,
    run_callbacks,
    run_started,
    save_and_summarise,
    train_until_done,
)
from ft_jupyter.train.store import RunDir, RunStore, current_user

RUN_ID_ENV = "FT_JUPYTER_RUN_ID"

# TRL reads a property that transformers 5 renamed, and transformers warns on every run: noise in a learner's
# notebook that says nothing about their run. Only that one message is silenced.
warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning)


def create_run(config: RunConfig) -> RunDir:
    run_id = os.environ.get(RUN_ID_ENV) or None
    if is_main_process():
        return RunStore(config.runs_dir).create(config, run_id=run_id)
    if run_id is None:
        raise ConfigError(
            f"This is process RANK={os.environ.get('RANK')} of a multi-process launch, and the processes "
            f"cannot agree on a run folder: set {RUN_ID_ENV}, e.g. "
            f"{RUN_ID_ENV}=$(date +%Y%m%d-%H%M%S)-myrun accelerate launch ..."
        )
    return RunDir(Path(config.runs_dir) / run_id)


def _oom_advice(config: RunConfig) -> str:
    t = config.training
    return (
        f"Out of memory. Try: batch_size {max(1, t.batch_size // 2)} with grad_accum {t.grad_accum * 2} (same "
        f"effective batch); gradient_checkpointing: true; method qlora (4-bit base); or max_seq_len "
        f"{max(64, t.max_seq_len // 2)}."
    )


def _is_out_of_memory(exc: BaseException) -> bool:
    text = str(exc).lower()
    # CUDA says "out of memory"; the CPU allocator says "can't allocate memory"; MemoryError is Python's own.
    return isinstance(exc, MemoryError) or "out of memory" in text or "can't allocate memory" in text


def run_training(
    config: RunConfig,
    observers: Iterable[Observer] = (),
    *,
    stop_event: threading.Event | None = None,
    run: RunDir | None = None,
    resume_from: Path | None = None,
) -> RunResult:
    """Train as `config` says, writing everything to a new run folder under `config.runs_dir` (or `run`).

    Returns when training finishes or is stopped (STOP file, `stop_event`, Ctrl-C); raises on failure, after marking
    the run failed with the message. `resume_from` is a checkpoint folder of `run` to continue from.
    """
    from ft_jupyter.data.preflight import preflight
    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.train.translate import (
        check_run_needs,
        choose_precision,
        fit_steps_to_packing,
        sft_config,
        total_steps,
    )

    run = run or create_run(config)
    emit = Emitter(run, observers)
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

        from ft_jupyter.data.mixing import mix_general_text
        from ft_jupyter.train.loading import load_for_training
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
        trainer = build_trainer(
            config, loaded.model, loaded.tokenizer, args, train_rows, data.validation, [events, health], emit
        )
        # Packed rows make an epoch fewer steps, known once TRL has packed them (unchanged without packing).
        steps = fit_steps_to_packing(config, trainer.args, len(trainer.train_dataset))
        emit(
            run_started(
                run,
                config,
                precision,
                loaded,
                data,
                meter,
                resume_from,
                train_rows=len(train_rows),
                steps=steps,
                template_note=checked.template_note,
                mixed_rows=mixed,
            )
        )
        for message in checked.warnings:
            emit(Warning(step=0, code="data", message=message))
        emit.status("running", f"training {steps} steps on {precision.device} ({precision.name})", max_steps=steps)
        runtime = train_until_done(trainer, stop, events, resume_from)
        return save_and_summarise(config, run, emit, trainer, loaded.tokenizer, events, health, meter, runtime)
    except BaseException as exc:
        _record_failure(config, emit, exc, trainer.state.global_step if trainer is not None else emit.step, meter)
        raise


def _record_failure(config: RunConfig, emit: Emitter, exc: BaseException, step: int, meter: CostMeter) -> None:
    """Leave the run folder saying what happened, whatever happened."""
    hours = meter.device_hours()
    if isinstance(exc, KeyboardInterrupt):  # before training started: nothing to save
        reason = "interrupted before training started"
        emit(
            Stopped(
                step=step,
                reason=reason,
                elapsed_s=time.perf_counter() - meter.started,
                artifact_path="",
                device_hours=hours,
                cost=meter.cost(hours),
            )
        )
        emit.status("stopped", reason, step=step, device_hours=hours)
        return
    advice = _oom_advice(config) if _is_out_of_memory(exc) else ""
    message = str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"
    emit(Failed(step=step, error=message, advice=advice))
    emit.status(
        "failed",
        message + (f" {advice}" if advice else ""),
        device_hours=hours,
        traceback="".join(traceback.format_exception(exc))[-4000:],
    )


def resume(
    run: RunDir | str | Path, observers: Iterable[Observer] = (), *, stop_event: threading.Event | None = None
) -> RunResult:
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
        raise ConfigError(
            f"Run {run.run_id} already finished ({status.get('message', '')}); start a new run to train further."
        )
    if status["state"] == "running":
        raise ConfigError(
            f"Run {run.run_id} is still running (pid {status.get('pid')}); stop it first with "
            f"`ft-jupyter runs stop {run.run_id}`."
        )
    run.clear_stop()
    checkpoint = run.last_checkpoint()
    if checkpoint is None:
        run.append_event(
            Note(
                step=0,
                code="resume",
                message="no checkpoint to resume from (training.save_steps was 0): starting again from step 0.",
            ).to_json()
        )
    return run_training(run.config(), observers, stop_event=stop_event, run=run, resume_from=checkpoint)
