"""The quickstart, end to end: the base model zero-shot and prompted, a LoRA fine-tune, the fine-tuned model — all
three measured the same way on the same held-out emails. `make demo` runs this; the quickstart notebook runs the
same steps one cell at a time."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ft_jupyter.config import RunConfig, preset

MODEL_ENV = "FT_JUPYTER_MODEL"


def quickstart_config(model: str | None = None, runs_dir: str = "runs") -> RunConfig:
    """The CPU quickstart preset; the model comes from `model`, else $FT_JUPYTER_MODEL, else the bundled SmolLM2."""
    config = preset("cpu-quickstart")
    name = model or os.environ.get(MODEL_ENV) or config.model.name
    overrides = {"model.name": name, "runs_dir": runs_dir}
    if name == "tiny-random":
        # The tiny model learns from scratch: a higher rate and more (very fast) steps.
        # Its 1k-token vocabulary needs longer sequences (320 fits every support email).
        overrides.update(
            {
                "training.max_steps": 60,
                "training.learning_rate": 5e-3,
                "method.dropout": 0.0,
                "training.max_seq_len": 320,
            }
        )
    return config.with_overrides(overrides)


@dataclass(frozen=True)
class Baselines:
    """What the base model does before any training: as asked, and with the cheap fix (a prompt with examples)."""

    zero_shot: Any  # ClassificationReport
    prompted: Any  # ClassificationReport
    shots: int  # worked examples in the prompt, drawn from the training split only


def measure_baselines(
    model: Any, tokenizer: Any, data: Any, *, seed: int = 42, progress: bool | None = None
) -> Baselines:
    """Accuracy of the base model on the test split zero-shot, then with a system prompt and one worked example
    per label from the training split (the prompt engineering that fine-tuning has to beat)."""
    from ft_jupyter.evaluate.classification import evaluate_classification
    from ft_jupyter.evaluate.prompting import default_system_prompt, few_shot_examples, with_prompt

    zero = evaluate_classification(
        model, tokenizer, data.test, data.labels, desc="Base model, zero-shot", progress=progress
    )
    shots = few_shot_examples(data.train, data.test, len(data.labels), seed=seed, labels=data.labels)
    prompted_rows = with_prompt(data.test, shots, default_system_prompt(data.labels))
    prompted = evaluate_classification(
        model,
        tokenizer,
        prompted_rows,
        data.labels,
        desc=f"Base model + prompt with {len(shots)} examples",
        progress=progress,
    )
    return Baselines(zero, prompted, len(shots))


@dataclass(frozen=True)
class DemoResult:
    baseline_accuracy: float  # base model, zero-shot
    prompted_accuracy: float  # base model with a system prompt and worked examples
    finetuned_accuracy: float
    shots: int
    test_rows: int
    wall_time_s: float
    train_time_s: float
    adapter_path: Path
    first_loss: float | None
    last_loss: float | None

    def table(self) -> str:
        rows = [
            ("base model, zero-shot", self.baseline_accuracy),
            (f"base model + prompt ({self.shots} examples)", self.prompted_accuracy),
            ("fine-tuned (LoRA)", self.finetuned_accuracy),
        ]
        lines = [f"Accuracy on {self.test_rows} held-out emails (greedy answers, exact label match):"]
        lines += [f"  {name:<36} {acc:6.1%}" for name, acc in rows]
        return "\n".join(lines)


def run_demo(config: RunConfig | None = None, *, say: Callable[[str], None] = print) -> DemoResult:
    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.evaluate.classification import evaluate_classification
    from ft_jupyter.models.inference import load_for_inference
    from ft_jupyter.train import run_training
    from ft_jupyter.train.console import ConsoleProgress

    config = config or quickstart_config()
    started = time.perf_counter()
    data = prepare(config.data, seed=config.training.seed)
    if not data.labels:
        raise ValueError("The quickstart measures label accuracy, so it needs classification-style data.")
    say(f"Data: {config.data.dataset} — {data.sizes()} rows; labels: {', '.join(data.labels)}")

    say(f"Measuring the base model ({config.model.name}) on {len(data.test)} held-out rows...")
    base, tokenizer = load_for_inference(
        config.model.name, trust_remote_code=config.model.trust_remote_code, revision=config.model.revision
    )
    before = measure_baselines(base, tokenizer, data, seed=config.training.seed)
    del base
    gc.collect()
    say(
        f"Base model: {before.zero_shot.accuracy:.1%} zero-shot ({before.zero_shot.invalid_rate:.0%} of answers were "
        f"not a label); {before.prompted.accuracy:.1%} with a prompt and {before.shots} worked examples"
    )

    result = run_training(config, [ConsoleProgress()])
    tuned = evaluate_classification(result.model, result.tokenizer, data.test, data.labels, desc="Fine-tuned model")
    wall = time.perf_counter() - started
    demo = DemoResult(
        before.zero_shot.accuracy,
        before.prompted.accuracy,
        tuned.accuracy,
        before.shots,
        tuned.n,
        wall,
        result.elapsed_s,
        result.artifact_path,
        result.first_loss,
        result.last_loss,
    )
    say(demo.table())
    say(
        f"Fine-tuned: {tuned.invalid_rate:.0%} of answers not a label | wall time {wall:.0f} s (training "
        f"{result.elapsed_s:.0f} s) | adapter: {result.artifact_path}"
    )
    return demo
