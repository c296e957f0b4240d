"""One process against a multi-process launch of the same run: wall time and training tokens/s, per strategy.

    python benchmarks/bench_launch.py                                   # tiny-random, 40 steps, global batch 8
    python benchmarks/bench_launch.py --model smollm2-135m-instruct --steps 5

Every variant trains the same rows at the same global batch (one process: batch 8; two processes: batch 4 each) and
the same seed, one after the other on this machine. "train" is the run's own train_runtime_s (trainer.train(),
without process start, imports and model loading); "wall" is from the call to the end, as a user waits for it. The
adapters are compared with the single process's (largest absolute difference of any weight). Record the printed
table in benchmarks/RESULTS.md with the commit.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def config(model: str, steps: int, batch: int, runs_dir: str, name: str):
    from ft_jupyter.config import DataConfig, MethodConfig, ModelConfig, RunConfig, TrainingConfig

    return RunConfig(
        name=name,
        runs_dir=runs_dir,
        model=ModelConfig(name=model),
        method=MethodConfig(method="lora", r=8, alpha=16, dropout=0.0),
        data=DataConfig(dataset="support-emails", max_rows=240, validation_fraction=0.0),
        training=TrainingConfig(
            max_steps=steps, batch_size=batch, learning_rate=5e-3, max_seq_len=128, warmup_ratio=0.0, seed=7
        ),
    )


def finished(run_path: Path) -> dict:
    events = [json.loads(line) for line in (run_path / "events.jsonl").read_text().splitlines()]
    end = events[-1]
    return {"state": end["type"], "train_s": end.get("train_runtime_s"), "tokens": end.get("tokens_seen")}


def max_diff(a: Path, b: Path) -> float:
    from safetensors.torch import load_file

    x, y = (load_file(str(p / "adapter" / "adapter_model.safetensors")) for p in (a, b))
    return max(float((x[k] - y[k]).abs().max()) for k in x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny-random")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--strategies", default="ddp,zero2,zero3")
    args = parser.parse_args()
    import subprocess

    from ft_jupyter.train.launch import start_launch

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        # The single process runs in its own interpreter too, so both sides pay process start and imports.
        one = config(args.model, args.steps, 8, f"{tmp}/one", "one")
        one.save(f"{tmp}/one.yaml")
        subprocess.run(
            [sys.executable, "-m", "ft_jupyter.cli", "train", f"{tmp}/one.yaml"],
            check=True,
            capture_output=True,
            env={"HF_HUB_OFFLINE": "1", "FT_JUPYTER_PROGRESS": "0", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
        )
        single = next(Path(f"{tmp}/one").iterdir())
        rows.append(
            {"variant": "1 process", "wall_s": time.perf_counter() - started, **finished(single), "max_diff": 0.0}
        )
        for strategy in args.strategies.split(","):
            started = time.perf_counter()
            handle = start_launch(
                config(args.model, args.steps, 4, f"{tmp}/{strategy}", strategy), processes=2, strategy=strategy
            )
            handle.wait()
            rows.append(
                {
                    "variant": f"2 processes, {strategy}",
                    "wall_s": time.perf_counter() - started,
                    **finished(handle.run_dir.path),
                    "max_diff": max_diff(handle.run_dir.path, single),
                }
            )
    print(json.dumps(rows, indent=1))
    print(f"\n{args.model}, {args.steps} steps, global batch 8:")
    print("| variant | wall s | train s | tokens/s (train) | max weight diff vs 1 process |\n|---|---:|---:|---:|---:|")
    for r in rows:
        rate = r["tokens"] / r["train_s"] if r["train_s"] else 0
        print(f"| {r['variant']} | {r['wall_s']:.1f} | {r['train_s']:.1f} | {rate:.0f} | {r['max_diff']:.1e} |")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
