"""Health checks: watch the numbers a careful person would watch, and say what is wrong and what usually causes it.

Each problem is reported once, as a `Warning` event with a code, a message and advice, so a notebook or the sidebar
only has to show warnings. Early stopping lives here too: it is the cure for the overfitting check.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable

from transformers import TrainerCallback

from ft_jupyter.config import RunConfig
from ft_jupyter.train.events import Event, Note, Warning

# Peak learning rates beyond which a method usually diverges or forgets (about 10x the usual recipe).
LR_LIMITS = {"lora": 2e-3, "qlora": 2e-3, "full": 2e-4, "freeze": 2e-3, "head": 1e-2}
FLAT_WINDOW = 5  # steps averaged at each end of the curve when judging "flat" and "rising"
EXPLOSION_FACTOR = 10.0  # a gradient norm this many times the running median is an explosion
MIN_IMPROVEMENT = 1e-3  # early stopping: an eval loss must beat the best by this share to count as progress


class HealthMonitor(TrainerCallback):
    def __init__(self, config: RunConfig, emit: Callable[[Event], None]):
        self.config = config
        self.emit = emit
        self.warned: set[str] = set()
        self.losses: list[tuple[int, float]] = []  # (step, loss), finite losses only
        self.grad_norms: list[float] = []
        self.evals: list[tuple[int, float]] = []
        self.best_eval = math.inf
        self.evals_without_improvement = 0
        self.early_stop_reason: str | None = None

    def warn(self, step: int, code: str, message: str, advice: str) -> None:
        if code not in self.warned:
            self.warned.add(code)
            self.emit(Warning(step=step, code=code, message=message, advice=advice))

    def on_train_begin(self, args, state, control, **kwargs):
        method, lr = self.config.method.method, self.config.training.learning_rate
        if lr > LR_LIMITS[method]:
            self.warn(
                state.global_step,
                "lr_too_high",
                f"learning rate {lr:g} is high for method {method!r} (usual peak: about {LR_LIMITS[method] / 10:g}).",
                "Expect unstable loss or forgetting on a pretrained model; lower training.learning_rate unless "
                "you know this model needs it (a tiny random model does).",
            )

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        step = state.global_step
        if "loss" in logs:
            self._check_loss(step, float(logs["loss"]), state.max_steps)
        if logs.get("grad_norm") is not None:
            self._check_grad_norm(step, float(logs["grad_norm"]))
        if logs.get("eval_loss") is not None:
            self._check_eval(step, float(logs["eval_loss"]), control)

    def _check_loss(self, step: int, loss: float, max_steps: int) -> None:
        if not math.isfinite(loss):
            self.warn(
                step,
                "loss_not_finite",
                f"the training loss is {loss} at step {step}; the weights are now "
                "garbage and further steps are wasted.",
                "Lower training.learning_rate (try 10x lower), keep warmup on, use bf16 or fp32 rather than "
                "fp16, and check the data for empty or enormous rows.",
            )
            return
        if loss == 0.0:
            self.warn(
                step,
                "loss_zero",
                f"the training loss is exactly 0 at step {step}: no token carries a label.",
                "Every answer is masked or cut off: check training.max_seq_len against your row lengths and "
                "that the chat template marks assistant turns (training.assistant_only_loss).",
            )
        self.losses.append((step, loss))
        values = [v for _, v in self.losses]
        n = len(values)
        if n >= 4 * FLAT_WINDOW and step >= max_steps // 4:
            first, last = statistics.fmean(values[:FLAT_WINDOW]), statistics.fmean(values[-FLAT_WINDOW:])
            if first > 0 and abs(first - last) / first < 0.01:
                self.warn(
                    step,
                    "loss_flat",
                    f"the training loss has not moved in {step} steps ({first:.4f} → {last:.4f}).",
                    "The learning rate may be too low, or nothing is training: check the "
                    "trainable parameter count, the LoRA targets and that the labels are not all masked.",
                )
        warmup_end = math.ceil(max_steps * self.config.training.warmup_ratio)
        after = [v for s_, v in self.losses if s_ > warmup_end]
        if len(after) >= 2 * FLAT_WINDOW:
            # Medians, against where the run started: with the loss on a few answer tokens per row one batch can score
            # 3x another, and a healthy run that found its level after a few lucky batches must not read as
            # divergence. Diverging is rising well above the first steps after warmup *and* above where the run
            # began (warmup's losses, else the first one), so a blow-up inside the first window still counts.
            before = [v for s_, v in self.losses if s_ <= warmup_end][-FLAT_WINDOW:] or [self.losses[0][1]]
            start = statistics.median(before)
            first = min(statistics.median(after[:FLAT_WINDOW]), start)
            last = statistics.median(after[-FLAT_WINDOW:])
            if last > 1.5 * first and last > start:
                self.warn(
                    step,
                    "loss_rising",
                    f"the training loss rose from {first:.4f} to {last:.4f} after warmup, above where the run began "
                    f"({start:.4f}): training is diverging.",
                    "Lower training.learning_rate (try 3-10x lower) or lengthen the warmup (training.warmup_ratio).",
                )

    def _check_grad_norm(self, step: int, norm: float) -> None:
        history = self.grad_norms[-50:]
        self.grad_norms.append(norm)
        if not math.isfinite(norm):
            self.warn(
                step,
                "grad_explosion",
                f"the gradient norm is {norm} at step {step}.",
                "Lower training.learning_rate, keep warmup on, and prefer bf16/fp32 over fp16.",
            )
        elif len(history) >= FLAT_WINDOW and norm > EXPLOSION_FACTOR * max(statistics.median(history), 1e-8):
            self.warn(
                step,
                "grad_explosion",
                f"the gradient norm jumped to {norm:.3g} at step {step}, "
                f"{norm / statistics.median(history):.0f}x its usual size.",
                "A spike or two is survivable (gradients are clipped at 1.0); repeated spikes mean the learning "
                "rate is too high or a batch is broken (very long or empty rows).",
            )

    def _check_eval(self, step: int, eval_loss: float, control) -> None:
        self.evals.append((step, eval_loss))
        if eval_loss < self.best_eval * (1 - MIN_IMPROVEMENT) or self.best_eval == math.inf:
            self.best_eval, self.evals_without_improvement = eval_loss, 0
        else:
            self.evals_without_improvement += 1
        if len(self.evals) >= 3 and len(self.losses) >= 2 * FLAT_WINDOW:
            rising = self.evals[-1][1] > self.evals[-2][1] > self.evals[-3][1]
            recent = [v for _, v in self.losses[-2 * FLAT_WINDOW :]]
            train_falling = statistics.fmean(recent[FLAT_WINDOW:]) < statistics.fmean(recent[:FLAT_WINDOW])
            if rising and train_falling:
                self.warn(
                    step,
                    "overfitting",
                    f"eval loss rose for two evaluations in a row (to {eval_loss:.4f}) "
                    "while the training loss kept falling: the model is memorising the training rows.",
                    "Stop around the best evaluation (training.load_best_at_end, "
                    "training.early_stopping_patience), train fewer epochs, add data, or raise dropout.",
                )
        patience = self.config.training.early_stopping_patience
        if patience and self.evals_without_improvement >= patience:
            self.early_stop_reason = (
                f"early stopping: eval loss has not improved on {self.best_eval:.4f} for "
                f"{patience} evaluation{'s' if patience > 1 else ''}"
            )
            self.emit(Note(step=step, code="early_stopping", message=self.early_stop_reason + "."))
            control.should_training_stop = True
