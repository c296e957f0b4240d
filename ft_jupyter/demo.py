"""The quickstart, end to end: baseline accuracy, a LoRA fine-tune, accuracy after. `make demo` runs this."""

from __future__ import annotations

import gc
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

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
        overrides.update({"training.max_steps": 60, "training.learning_rate": 5e-3, "method.dropout": 0.0,
                          "training.max_seq_len": 320})
    return config.with_overrides(overrides)


@dataclass(frozen=True)
class DemoResult:
    baseline_accuracy: float
    finetuned_accuracy: float
    test_rows: int
    wall_time_s: float
    train_time_s: float
    adapter_path: Path
    first_loss: float | None
    last_loss: float | None


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
    base, tokenizer = load_for_inference(config.model.name)
    baseline = evaluate_classification(base, tokenizer, data.test, data.labels)
    del base
    gc.collect()
    say(f"Baseline accuracy: {baseline.accuracy:.1%} ({baseline.invalid_rate:.0%} of answers were not a label)")

    result = run_training(config, [ConsoleProgress()])
    tuned = evaluate_classification(result.model, result.tokenizer, data.test, data.labels)
    wall = time.perf_counter() - started
    say(f"Fine-tuned accuracy: {tuned.accuracy:.1%} ({tuned.invalid_rate:.0%} not a label)")
    say(f"Baseline {baseline.accuracy:.1%} -> fine-tuned {tuned.accuracy:.1%} on {tuned.n} held-out rows | "
        f"wall time {wall:.0f} s (training {result.elapsed_s:.0f} s) | adapter: {result.artifact_path}")
    return DemoResult(baseline.accuracy, tuned.accuracy, tuned.n, wall, result.elapsed_s, result.artifact_path,
                      result.first_loss, result.last_loss)
