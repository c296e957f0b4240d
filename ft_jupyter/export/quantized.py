"""Smaller copies of the merged model, each re-measured on the run's test split with the fine-tune's own metrics.

Quantizing is only safe when measured: the same held-out rows, the same greedy decoding, the same scoring as the
three-way comparison, so the learner sees what each size costs in accuracy next to what it saves on disk and in
memory.

Copies: the merged folder as stored (16-bit or fp32), bitsandbytes LLM.int8 (8-bit) and NF4 with double quantization
(4-bit), and GGUF q8_0 when one was written (read back through transformers, which dequantizes it: the accuracy of
exactly the rounded weights llama.cpp and Ollama serve).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ft_jupyter.config import ConfigError
from ft_jupyter.noise import BNB_INT8_CAST_MESSAGE, BNB_INT8_LOGGER, quiet_message

COPIES = {
    "merged": "merged, as stored",
    "8bit": "8-bit (bitsandbytes LLM.int8)",
    "4bit": "4-bit (bitsandbytes NF4, double quant)",
    "q8_0": "GGUF q8_0",
}
BITS = {"float32": 32.0, "float16": 16.0, "bfloat16": 16.0, "8bit": 8.0, "4bit": 4.0, "q8_0": 8.5}


@dataclass
class CopyScore:
    copy: str
    label: str
    bits_per_weight: float
    bytes: int  # on disk (folders, GGUF) or in memory (bitsandbytes copies are made at load time)
    metric: str
    score: float  # the headline metric (accuracy or ROUGE-L)
    extra: dict[str, float]  # macro-F1 and invalid rate, or exact match and token F1
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class QuantizedReport:
    run_id: str
    n: int
    metric: str
    rows: list[CopyScore]
    skipped: dict[str, str]  # copy → why it was not measured

    def delta(self, row: CopyScore) -> float:
        return row.score - self.rows[0].score

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "n": self.n,
            "metric": self.metric,
            "rows": [r.to_json() for r in self.rows],
            "skipped": self.skipped,
        }

    def __str__(self) -> str:
        lines = [
            f"Quantized copies of run {self.run_id}, scored on {self.n} held-out test rows ({self.metric})",
            f"  {'copy':<42}{'bits':>6}{'size':>11}{self.metric:>10}{'vs merged':>11}{'time':>8}",
        ]
        for r in self.rows:
            lines.append(
                f"  {r.label:<42}{r.bits_per_weight:>6g}{r.bytes / 1e6:>9.1f}MB{100 * r.score:>9.1f}%"
                f"{100 * self.delta(r):>+10.1f}p{r.seconds:>7.1f}s"
            )
        lines += [f"  {COPIES.get(k, k)}: not measured ({why})" for k, why in self.skipped.items()]
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))


def _load(copy: str, folder: Path, gguf: Path | None):
    """(model, bytes) for one copy; weights compute in fp32 on CPU (bf16 matmuls are slow there), bf16 on a GPU."""
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    from ft_jupyter.export.folder import folder_bytes

    cuda = torch.cuda.is_available()
    compute = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
    device_map = {"": 0 if cuda else "cpu"}
    if copy == "merged":
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=compute if cuda else torch.float32)
        return model.to("cuda" if cuda else "cpu"), folder_bytes(folder)
    if copy == "q8_0":
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        return model.to("cuda" if cuda else "cpu"), gguf.stat().st_size
    quant = (
        BitsAndBytesConfig(load_in_8bit=True)
        if copy == "8bit"
        else BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=compute
        )
    )
    model = AutoModelForCausalLM.from_pretrained(
        folder, quantization_config=quant, dtype=compute, device_map=device_map
    )
    return model, int(model.get_memory_footprint())


def quantized_copies(
    run: Any,
    *,
    runs_dir: str | Path = "runs",
    copies: tuple[str, ...] = ("merged", "8bit", "4bit"),
    merged: str | Path | None = None,
    gguf: str | Path | None = None,
    max_rows: int | None = None,
    batch_size: int = 8,
    progress: bool | None = None,
) -> QuantizedReport:
    """Score each copy on the run's test split; writes export/quantized.json. `merged`: the merged folder (default:
    the newest export/merged-*); `gguf`: the q8_0 file (default: export/gguf/model-q8_0.gguf when it exists)."""
    from ft_jupyter.data.prepare import prepare
    from ft_jupyter.evaluate.comparison import _budget, _score
    from ft_jupyter.evaluate.generation import generate_answers
    from ft_jupyter.evaluate.runs import open_run
    from ft_jupyter.export.folder import export_dir, write_json

    unknown = [c for c in copies if c not in COPIES]
    if unknown:
        raise ConfigError(f"unknown quantized copy {unknown[0]!r}; choose from {', '.join(COPIES)}.")
    run_dir, _ = open_run(run, runs_dir)
    config = run_dir.config()
    folder = Path(merged) if merged else _newest_merged(run_dir)
    gguf_path = Path(gguf) if gguf else export_dir(run_dir.path) / "gguf" / "model-q8_0.gguf"
    data = prepare(config.data, seed=config.training.seed, progress=False)
    test = data.test[:max_rows] if max_rows else data.test
    if not test:
        raise ConfigError(
            f"Run {run_dir.run_id} has no test rows (data.test_fraction = {config.data.test_fraction}); "
            "quantized copies are compared on held-out rows."
        )
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    references = [e.label if data.labels else e.answer for e in test]
    budget = _budget(tokenizer, data, references)
    task = "classification" if data.labels else "generation"
    metric = "accuracy" if task == "classification" else "rouge_l"
    stored = _stored_dtype(folder)
    rows, skipped = [], {}
    for copy in copies:
        if copy == "q8_0" and not gguf_path.is_file():
            skipped[copy] = f"no {gguf_path.name}: export with --gguf q8_0 first"
            continue
        why = _cannot_run(copy)
        if why:
            skipped[copy] = why
            continue
        started = time.perf_counter()
        model, size = _load(copy, folder, gguf_path)
        label = f"{COPIES[copy]} ({stored})" if copy == "merged" else COPIES[copy]
        with quiet_message(BNB_INT8_LOGGER, BNB_INT8_CAST_MESSAGE):
            answers = generate_answers(
                model,
                tokenizer,
                [e.prompt for e in test],
                max_new_tokens=budget,
                batch_size=batch_size,
                desc=f"Scoring {label}",
                progress=progress,
            )
        scores, _ = _score(task, data, answers, references)
        extra = {
            k: float(scores[k])
            for k in (("macro_f1", "invalid_rate") if task == "classification" else ("exact_match", "token_f1"))
        }
        rows.append(
            CopyScore(
                copy,
                label,
                BITS[stored if copy == "merged" else copy],
                size,
                metric,
                float(scores[metric]),
                extra,
                time.perf_counter() - started,
            )
        )
        del model
    if not rows:
        raise ConfigError(f"no copy could be measured: {skipped}")
    report = QuantizedReport(run_dir.run_id, len(test), metric, rows, skipped)
    write_json(export_dir(run_dir.path) / "quantized.json", report.to_json())
    return report


def _newest_merged(run_dir: Any) -> Path:
    from ft_jupyter.export.folder import export_dir

    found = sorted(export_dir(run_dir.path).glob("merged-*/config.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise ConfigError(
            f"Run {run_dir.run_id} has no merged model yet: run `ft-jupyter export {run_dir.run_id}` "
            "(or ft_jupyter.export.merge_run) first."
        )
    return found[-1].parent


def _stored_dtype(folder: Path) -> str:
    import json

    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return str(config.get("dtype") or config.get("torch_dtype") or "float32")


def _cannot_run(copy: str) -> str | None:
    if copy not in ("8bit", "4bit"):
        return None
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        return "bitsandbytes is not installed (pip install bitsandbytes)"
    return None
