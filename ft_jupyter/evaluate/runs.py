"""Open a finished run for evaluation: its folder, its config and data splits, and the base and tuned models.

A LoRA run needs one copy of the base model in memory: the base is the tuned model with its adapter switched off.
Full, freeze and head runs load the base separately (a head run's tuned model is a classifier, not a language model).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ft_jupyter.config import ConfigError
from ft_jupyter.train.store import RunDir, RunStore

EVALUATION_DIR = "evaluation"


def open_run(run: Any, runs_dir: str | Path = "runs") -> tuple[RunDir, Any]:
    """(RunDir, RunResult or None) for a RunResult, a RunDir, a run folder path or a run id under `runs_dir`."""
    if isinstance(run, RunDir):
        return run, None
    if hasattr(run, "run_dir") and isinstance(run.run_dir, RunDir):  # a RunResult, possibly with its model loaded
        return run.run_dir, run
    path = Path(str(run)).expanduser()
    if (path / "config.yaml").is_file():
        return RunDir(path), None
    return RunStore(runs_dir).get(str(run)), None


def save_result(run_dir: RunDir, name: str, data: dict[str, Any]) -> Path:
    """Write an evaluation result next to the run (evaluation/<name>.json), where the checklist finds it."""
    folder = run_dir.path / EVALUATION_DIR
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    tmp.replace(path)
    return path


def load_result(run_dir: RunDir, name: str) -> dict[str, Any] | None:
    path = run_dir.path / EVALUATION_DIR / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


@dataclass
class RunModels:
    tuned: Any
    tokenizer: Any
    separate_base: Any = None  # full/freeze/head runs; None when the base is the tuned model without its adapter

    @contextmanager
    def base(self) -> Iterator[Any]:
        """The base model, for the length of a `with` block."""
        if self.separate_base is not None:
            yield self.separate_base
        else:
            with self.tuned.disable_adapter():
                yield self.tuned


def _is_peft(model: Any) -> bool:
    from peft import PeftModel

    return isinstance(model, PeftModel)


def load_models(run_dir: RunDir, result: Any = None, *, generative: bool = True, base: bool = True) -> RunModels:
    """The tuned model (from memory when `result` still holds it, else from the run folder) and the base.

    generative=False accepts a classification-head run (method "head"), whose tuned model predicts labels and
    cannot generate; base=False skips loading a separate base model (only the tuned one is needed)."""
    from ft_jupyter.models.inference import load_classifier_for_inference, load_for_inference

    config = run_dir.config()
    head = config.method.method == "head"
    if head and generative:
        raise ConfigError(
            f"Run {run_dir.run_id} trained a classification head (method 'head'): it predicts labels "
            "and cannot generate text, so this evaluation does not apply to it. Score it with "
            "ft_jupyter.evaluate.compare(run)."
        )
    if result is not None and result.model is not None:
        tuned, tokenizer = result.model, result.tokenizer
    else:
        artifact = run_dir.artifact_path()
        if artifact is None:
            raise ConfigError(
                f"Run {run_dir.run_id} has no adapter/ or model/ folder yet (state: "
                f"{run_dir.status().get('state')}); evaluate a finished or stopped run."
            )
        if artifact.name == "adapter":
            tuned, tokenizer = load_for_inference(
                config.model.name,
                adapter=artifact,
                trust_remote_code=config.model.trust_remote_code,
                revision=config.model.revision,
            )
        elif head:
            tuned, tokenizer = load_classifier_for_inference(artifact, trust_remote_code=config.model.trust_remote_code)
        else:
            tuned, tokenizer = load_for_inference(str(artifact), trust_remote_code=config.model.trust_remote_code)
    separate = None
    if base and not _is_peft(tuned):
        separate, _ = load_for_inference(
            config.model.name, trust_remote_code=config.model.trust_remote_code, revision=config.model.revision
        )
    return RunModels(tuned, tokenizer, separate)
