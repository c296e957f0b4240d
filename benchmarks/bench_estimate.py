"""Measured peak memory of real training runs against ft-jupyter's estimate (recorded in benchmarks/RESULTS.md).

Each case trains a few steps in a fresh child process. On CPU the measure is the process's peak resident memory
(ru_maxrss), compared with the estimate's total on device "cpu" (which includes the measured runtime term). On a
CUDA machine it is torch.cuda.max_memory_allocated, compared with the estimate's total minus its runtime term (the
CUDA context is outside torch's allocator). The estimate is evaluated at the largest batch the model actually saw
(rows × tokens, recorded by a hook on the embedding), and also at its worst case (batch × max_seq_len).

    .venv/bin/python benchmarks/bench_estimate.py                 # all CPU cases
    .venv/bin/python benchmarks/bench_estimate.py --cases tiny-lora,smollm2-lora --json out.json
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ft_jupyter.config import DataConfig, MethodConfig, ModelConfig, QuantizationConfig, RunConfig, TrainingConfig

STEPS = 3


def _case(name: str, model: str, method: MethodConfig, training: TrainingConfig, **extra) -> tuple[str, RunConfig]:
    # No validation split: the end-of-run evaluation would only add time, never peak memory.
    data = DataConfig(dataset="support-emails", validation_fraction=0.0, max_rows=240)
    return name, RunConfig(
        name=name, model=ModelConfig(name=model), method=method, data=data, training=training, **extra
    )


def cases() -> dict[str, RunConfig]:
    smol = "smollm2-135m-instruct"
    steps = dict(max_steps=STEPS, warmup_ratio=0.0, learning_rate=2e-4)
    return dict(
        [
            _case(
                "tiny-lora",
                "tiny-random",
                MethodConfig(method="lora", r=8, alpha=16, dropout=0.0),
                TrainingConfig(batch_size=8, max_seq_len=128, max_steps=10, learning_rate=5e-3),
            ),
            _case(
                "smollm2-lora",
                smol,
                MethodConfig(method="lora", r=16, alpha=32, dropout=0.05),
                TrainingConfig(batch_size=8, max_seq_len=128, **steps),
            ),
            _case(
                "smollm2-lora-attn-gc",
                smol,
                MethodConfig(method="lora", r=8, alpha=16, dropout=0.0, target_preset="attention"),
                TrainingConfig(batch_size=8, max_seq_len=128, gradient_checkpointing=True, **steps),
            ),
            _case(
                "smollm2-full",
                smol,
                MethodConfig(method="full"),
                TrainingConfig(batch_size=4, max_seq_len=128, **dict(steps, learning_rate=2e-5)),
            ),
            # Held out: not used to fit the CPU runtime and allocator-cache constants in models/memory.py.
            _case(
                "tiny-full",
                "tiny-random",
                MethodConfig(method="full"),
                TrainingConfig(batch_size=8, max_seq_len=128, max_steps=10, learning_rate=1e-3),
            ),
            _case(
                "smollm2-lora-qv-long",
                smol,
                MethodConfig(method="lora", r=8, alpha=16, dropout=0.1, target_preset="attention-qv"),
                TrainingConfig(batch_size=4, max_seq_len=224, **steps),
            ),
            _case(
                "smollm2-freeze",
                smol,
                MethodConfig(method="freeze", freeze_train_blocks=4, freeze_train_head=True),
                TrainingConfig(batch_size=8, max_seq_len=128, **dict(steps, learning_rate=5e-5)),
            ),
            _case(
                "smollm2-qlora-gpu",
                smol,
                MethodConfig(method="qlora", r=16, alpha=32),
                TrainingConfig(batch_size=8, max_seq_len=128, **steps),
                quantization=QuantizationConfig(mode="4bit"),
            ),
        ]
    )


CPU_CASES = (
    "tiny-lora",
    "smollm2-lora",
    "smollm2-lora-attn-gc",
    "smollm2-full",
    "tiny-full",
    "smollm2-lora-qv-long",
    "smollm2-freeze",
)
GPU_CASES = ("smollm2-lora", "smollm2-qlora-gpu", "smollm2-full")


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _heap_in_use() -> int:
    """Bytes glibc malloc has handed out and not had back: live allocations, unlike RSS, which also counts freed
    memory the allocator keeps cached for reuse."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return info.uordblks + info.hblkhd


class _PeakSampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.peak_live = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.002):
            self.peak_live = max(self.peak_live, _heap_in_use())


def child(config_path: str) -> None:
    """Train one case and print one JSON line: peak memory and the largest batch seen."""
    import resource

    import datasets  # noqa: F401  (imported before the baseline, like every training process does)
    import peft  # noqa: F401
    import torch
    import transformers  # noqa: F401
    import trl  # noqa: F401

    from ft_jupyter.train import run_training

    config = RunConfig.load(config_path)
    largest = [0, 0]

    def record(module, args):
        if isinstance(module, torch.nn.Embedding) and module.training and torch.is_grad_enabled() and args:
            rows, tokens = args[0].shape[0], args[0].shape[-1]
            if rows * tokens > largest[0] * largest[1]:
                largest[:] = [rows, tokens]

    torch.nn.modules.module.register_module_forward_pre_hook(record)
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    baseline_live = _heap_in_use()
    sampler = _PeakSampler()
    sampler.start()
    started = time.perf_counter()
    result = run_training(config)
    sampler.done.set()
    sampler.join()
    out = {
        "steps": result.steps,
        "seconds": round(time.perf_counter() - started, 1),
        "batch": largest,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "peak_live_bytes": sampler.peak_live - baseline_live,
        "device": "cpu",
    }
    if cuda:
        out.update(device="cuda", peak_cuda_bytes=torch.cuda.max_memory_allocated())
    print("BENCH " + json.dumps(out), flush=True)


def measure(name: str, config: RunConfig, workdir: Path) -> dict:
    """Train the case in a child process; what it measured."""
    config = config.with_overrides({"runs_dir": str(workdir / "runs")})
    path = config.save(workdir / f"{name}.yaml")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True, text=True, env=env)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"case {name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(line[len("BENCH ") :])


def compare_case(name: str, config: RunConfig, measured: dict) -> dict:
    """The estimate for the batch the run actually saw, against what it measured."""
    from ft_jupyter.models.architecture import architecture
    from ft_jupyter.models.estimate import estimate_run, row_tokens
    from ft_jupyter.models.memory import memory_breakdown
    from ft_jupyter.models.params import count_parameters

    device = measured["device"]
    rows, tokens = measured["batch"]
    arch = architecture(config.model.name)
    counts = count_parameters(arch, config.method)
    found = row_tokens(config)
    answer = found.longest_answer if found else None
    seen = config.with_overrides({"training.batch_size": rows})
    at_seen = memory_breakdown(arch, counts, seen, device=device, seq_len=tokens, answer_tokens=answer)
    worst = estimate_run(config, device=device, measure_data=False).memory
    by_name = {t.name: t.bytes for t in at_seen.terms}
    runtime = by_name["runtime"] if device == "cuda" else 0
    real = measured["peak_cuda_bytes"] if device == "cuda" else measured["peak_rss_bytes"]
    estimate = at_seen.total_bytes - runtime
    # Live tensors only: neither the process runtime nor the allocator's free cache.
    modelled = at_seen.total_bytes - by_name["runtime"] - by_name.get("allocator cache", 0)
    live = measured["peak_live_bytes"]
    return {
        "case": name,
        "device": device,
        "measure": "max_memory_allocated" if device == "cuda" else "peak RSS",
        "batch": f"{rows}×{tokens}",
        "measured_mib": round(real / 2**20),
        "estimate_mib": round(estimate / 2**20),
        "error_percent": round(100 * (estimate - real) / real, 1),
        "live_heap_mib": round(live / 2**20),
        "modelled_mib": round(modelled / 2**20),
        "live_error_percent": round(100 * (modelled - live) / live, 1),
        "worst_case_mib": round((worst.total_bytes - runtime) / 2**20),
        "seconds": measured["seconds"],
        "terms_mib": {k: round(v / 2**20) for k, v in by_name.items()},
        "measured": measured,
    }


def table(results: list[dict]) -> str:
    lines = [
        "| case | device | batch seen | peak RSS / allocated MiB | estimate MiB | error | heap growth MiB | "
        "modelled terms MiB | error | worst-case estimate MiB |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['case']} | {r['device']} | {r['batch']} | {r['measured_mib']:,} | {r['estimate_mib']:,} | "
            f"{r['error_percent']:+.1f} % | {r['live_heap_mib']:,} | {r['modelled_mib']:,} | "
            f"{r['live_error_percent']:+.1f} % | {r['worst_case_mib']:,} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--cases", help="comma-separated case names (default: all for this device)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument(
        "--reestimate",
        metavar="RESULTS_JSON",
        help="recompute the estimates for measurements saved by an earlier --json run",
    )
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    import torch

    all_cases = cases()
    results = []
    if args.reestimate:
        for old in json.loads(Path(args.reestimate).read_text(encoding="utf-8")):
            results.append(compare_case(old["case"], all_cases[old["case"]], old["measured"]))
    else:
        names = args.cases.split(",") if args.cases else (GPU_CASES if torch.cuda.is_available() else CPU_CASES)
        with tempfile.TemporaryDirectory() as tmp:
            for name in names:
                results.append(compare_case(name, all_cases[name], measure(name, all_cases[name], Path(tmp))))
                print(json.dumps(results[-1]), flush=True)
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
