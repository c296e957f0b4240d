"""`run_training(config)`: one supervised fine-tuning run, top to bottom."""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ft_jupyter.config import ConfigError, RunConfig
from ft_jupyter.train.events import Event, Failed, Finished, Observer, RunStarted, Stopped, Warning
from ft_jupyter.train.store import RunDir, RunStore


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

    @property
    def first_loss(self) -> float | None:
        return self.losses[0][1] if self.losses else None

    @property
    def last_loss(self) -> float | None:
        return self.losses[-1][1] if self.losses else None


class _Emitter:
    """Appends every event to events.jsonl and hands it to the observers; a failing observer never stops training."""

    def __init__(self, run: RunDir, observers: Iterable[Observer]):
        self.run = run
        self.observers = list(observers)
        self._broken: set[int] = set()

    def __call__(self, event: Event) -> None:
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


def _oom_advice(config: RunConfig) -> str:
    t = config.training
    return (f"Out of memory. Try: batch_size {max(1, t.batch_size // 2)} with grad_accum {t.grad_accum * 2} (same "
            f"effective batch); gradient_checkpointing: true; method qlora (4-bit base); or max_seq_len "
            f"{max(64, t.max_seq_len // 2)}.")


def _dataset(examples) -> Any:
    from datasets import Dataset

    return Dataset.from_list([{"messages": list(e.messages)} for e in examples])


def run_training(config: RunConfig, observers: Iterable[Observer] = (), *,
                 stop_event: threading.Event | None = None, run: RunDir | None = None) -> RunResult:
    """Train as `config` says, writing everything to a new run folder under `config.runs_dir`.

    Returns when training finishes or is stopped (STOP file, `stop_event`, Ctrl-C); raises on failure, after marking
    the run failed with the message.
    """
    from ft_jupyter.data.preflight import preflight
    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.train.translate import choose_precision, sft_config, total_steps

    run = run or RunStore(config.runs_dir).create(config)
    emit = _Emitter(run, observers)
    stop_event = stop_event or threading.Event()
    started = time.perf_counter()
    callback = trainer = None
    run.set_status("running", "loading model and data")
    try:
        import torch
        from trl import SFTTrainer

        from ft_jupyter.train.callbacks import EventCallback
        from ft_jupyter.train.loading import load_for_training

        import datasets
        from transformers import PrinterCallback

        datasets.disable_progress_bars()  # per-split map() bars drown the training progress in notebooks
        torch.manual_seed(config.training.seed)
        data = prepare(config.data, seed=config.training.seed)
        precision = choose_precision(config)
        loaded = load_for_training(config, precision)
        checked = preflight(data, loaded.tokenizer, config)  # chat template, lengths, data findings left in
        if checked.template:
            loaded.tokenizer.chat_template = checked.template
        template_note = checked.template_note
        steps = total_steps(config, len(data.train))
        args = sft_config(config, precision, run.checkpoints_dir, steps, has_eval=bool(data.validation))
        callback = EventCallback(run, emit, precision.device, stop_event)
        trainer = SFTTrainer(model=loaded.model, args=args, train_dataset=_dataset(data.train),
                             eval_dataset=_dataset(data.validation) if data.validation else None,
                             processing_class=loaded.tokenizer, callbacks=[callback])
        trainer.remove_callback(PrinterCallback)  # our observers report progress; raw log dicts are noise
        emit(RunStarted(run_id=run.run_id, config=config.to_dict(), device=precision.device,
                        precision=precision.name, precision_reason=precision.reason,
                        params_total=loaded.params_total, params_trainable=loaded.params_trainable,
                        train_rows=len(data.train), eval_rows=len(data.validation), max_steps=steps,
                        template_note=template_note))
        for message in checked.warnings:
            emit(Warning(step=0, code="data", message=message))
        run.set_status("running", f"training {steps} steps on {precision.device} ({precision.name})",
                       max_steps=steps)
        try:
            trainer.train()
        except KeyboardInterrupt:
            callback.stop_reason = "interrupted (Ctrl-C / kernel interrupt)"
        artifact = run.path / ("adapter" if config.method.uses_lora else "model")
        trainer.model.save_pretrained(str(artifact))
        loaded.tokenizer.save_pretrained(str(artifact))
        elapsed = time.perf_counter() - started
        step = trainer.state.global_step
        if callback.stop_reason:
            emit(Stopped(step=step, reason=callback.stop_reason, elapsed_s=elapsed, artifact_path=str(artifact)))
            run.set_status("stopped", f"{callback.stop_reason} at step {step}/{steps}; saved {artifact.name}/",
                           step=step)
            state = "stopped"
        else:
            train_loss = callback.losses[-1][1] if callback.losses else None
            emit(Finished(step=step, train_loss=train_loss, elapsed_s=elapsed, artifact_path=str(artifact)))
            run.set_status("finished", f"{step} steps in {elapsed:.0f} s; saved {artifact.name}/", step=step)
            state = "finished"
        return RunResult(run, state, step, elapsed, artifact, callback.losses, trainer.model, loaded.tokenizer)
    except BaseException as exc:
        step = trainer.state.global_step if trainer is not None else 0
        oom = "out of memory" in str(exc).lower()
        advice = _oom_advice(config) if oom else ""
        message = str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"
        emit(Failed(step=step, error=message, advice=advice))
        run.set_status("failed", message + (f" {advice}" if advice else ""),
                       traceback="".join(traceback.format_exception(exc))[-4000:])
        raise
