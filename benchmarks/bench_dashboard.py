"""Does watching a run slow it down? Wall time of the same tiny-model run with the live dashboard ÷ without.

Everything runs in one real Jupyter kernel (started with jupyter_client), the way a notebook runs it: training on
the background thread, the dashboard displayed, so every redraw is serialised and sent over the kernel's ZMQ
sockets. Two measurements:

- whole runs: the same run with and without the dashboard, alternating A B B A ... so drift (other load on the
  machine, warm caches) hits both sides alike; the first run is a warm-up. Reports the wall-time ratio (median of
  neighbouring pairs), the kernel process's CPU-time ratio (all threads: training, drawing, messaging) and the time
  spent inside the dashboard's observer call (event intake + every redraw).
- interleaved: one long run whose dashboard is fed only in every other block of steps; the ratio of mean step
  times in fed and unfed blocks, and the whole-run ratio it implies. Blocks alternate every second or so, so load
  swings on a shared machine average out far better than between whole runs.

    .venv/bin/python benchmarks/bench_dashboard.py --pairs 3 --steps 40 --interleaved-steps 200
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

KERNEL_SETUP = """
import json, statistics, time
from IPython.display import display
from ft_jupyter.config import DataConfig, MethodConfig, ModelConfig, RunConfig, TrainingConfig
from ft_jupyter.ui.dashboard import Dashboard
from ft_jupyter.train.background import start_training

def make_config(steps):
    return RunConfig(name="bench", runs_dir={runs_dir!r}, model=ModelConfig(name="tiny-random"),
                     method=MethodConfig(method="lora", r=8, alpha=16, dropout=0.0),
                     data=DataConfig(dataset="support-emails", max_rows=400),
                     training=TrainingConfig(max_steps=steps, batch_size=8, learning_rate=5e-3,
                                             max_seq_len={max_seq_len}, eval_steps=0, seed=1))

def step_times(handle):
    return [e["time"] for e in handle.run_dir.read_events(0)[0] if e["type"] == "step"]

def bench_once(with_dashboard, steps):
    observers, spent, board = [], [0.0], None
    if with_dashboard:
        board = Dashboard(title="benchmark")
        display(board)
        def observe(event):
            t0 = time.perf_counter()
            board(event)
            spent[0] += time.perf_counter() - t0
        observers = [observe]
    t0, cpu0 = time.perf_counter(), time.process_time()
    handle = start_training(make_config(steps), observers)
    handle.wait()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    times = step_times(handle)
    print("BENCH " + json.dumps({{"kind": "run", "dashboard": with_dashboard, "wall_s": wall, "cpu_s": cpu,
                                  "loop_s": times[-1] - times[0], "steps": len(times), "observer_s": spent[0],
                                  "redraws": board.redraws if board else 0}}))

def bench_interleaved(steps, block):
    board = Dashboard(title="benchmark (interleaved)")
    display(board)
    fed = lambda step: (step // block) % 2 == 1
    def observe(event):
        if event.type != "step" or fed(event.step):
            board(event)
    handle = start_training(make_config(steps), [observe])
    handle.wait()
    times = step_times(handle)
    # The draw for step s happens after its event is stamped, so it lengthens step s + 1.
    on, off = [], []
    for s in range(block + 1, len(times)):  # the first block warms up
        (on if fed(s) else off).append(times[s] - times[s - 1])
    print("BENCH " + json.dumps({{"kind": "interleaved", "steps": len(times), "block": block,
                                  "fed_share": len(on) / (len(on) + len(off)),
                                  "fed_step_s": statistics.mean(on), "unfed_step_s": statistics.mean(off),
                                  "fed_median_s": statistics.median(on), "unfed_median_s": statistics.median(off),
                                  "redraws": board.redraws}}))
"""


def run_in_kernel(args: argparse.Namespace, runs_dir: str) -> list[dict]:
    from jupyter_client.manager import start_new_kernel

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    manager, client = start_new_kernel(kernel_name="python3", env=env)
    results: list[dict] = []

    def collect(msg: dict) -> None:
        if msg["msg_type"] == "stream":
            for line in msg["content"]["text"].splitlines():
                if line.startswith("BENCH "):
                    results.append(json.loads(line[len("BENCH ") :]))
                    print("  " + line[len("BENCH ") :][:160], file=sys.stderr, flush=True)
        elif msg["msg_type"] == "error":
            raise RuntimeError("\n".join(msg["content"]["traceback"]))

    def run(code: str) -> None:
        client.execute_interactive(code, timeout=args.timeout, output_hook=collect)

    try:
        run(KERNEL_SETUP.format(runs_dir=runs_dir, max_seq_len=args.max_seq_len))
        run(f"bench_once(False, {args.steps})")  # warm-up, not counted
        results.clear()
        for i in range(args.pairs):
            for flag in (False, True) if i % 2 == 0 else (True, False):
                run(f"bench_once({flag}, {args.steps})")
        if args.interleaved_steps:
            run(f"bench_interleaved({args.interleaved_steps}, {args.block})")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return results


def summarise(results: list[dict]) -> dict:
    runs = [r for r in results if r["kind"] == "run"]
    plain = [r for r in runs if not r["dashboard"]]
    board = [r for r in runs if r["dashboard"]]
    out: dict = {}
    if plain and board:
        # The i-th plain and i-th dashboard runs are neighbours (A B, B A, ...): compare them in pairs.
        out = {
            f"{key}_ratio_median_of_pairs": statistics.median(
                b[key] / p[key] for p, b in zip(plain, board, strict=True)
            )
            for key in ("wall_s", "loop_s", "cpu_s")
        }
        out.update(
            runs_each=len(plain),
            steps=board[0]["steps"],
            wall_ratio_of_totals=sum(b["wall_s"] for b in board) / sum(p["wall_s"] for p in plain),
            observer_share_of_loop=statistics.median(b["observer_s"] / b["loop_s"] for b in board),
            redraws=statistics.median(b["redraws"] for b in board),
        )
    for r in results:
        if r["kind"] == "interleaved":
            fed = r["fed_step_s"] / r["unfed_step_s"]
            # Redraws are rationed per second of wall time, and here they all fall in the fed half of the steps,
            # so fed steps carry the whole run's drawing: the run-level ratio is 1 + (fed - 1) × the fed share.
            out.update(
                interleaved_steps=r["steps"],
                interleaved_block=r["block"],
                interleaved_fed_over_unfed=fed,
                interleaved_fed_over_unfed_medians=r["fed_median_s"] / r["unfed_median_s"],
                interleaved_run_ratio=1 + (fed - 1) * r["fed_share"],
                interleaved_step_s=r["unfed_step_s"],
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="whole runs with and without the dashboard, each")
    parser.add_argument("--steps", type=int, default=40, help="steps of each whole run")
    parser.add_argument("--interleaved-steps", type=int, default=200, help="steps of the interleaved run (0: skip)")
    parser.add_argument("--block", type=int, default=10, help="steps per block in the interleaved run")
    parser.add_argument("--max-seq-len", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as runs_dir:
        results = run_in_kernel(args, runs_dir)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent
    ).stdout.strip()
    with open("/proc/loadavg") as fh:
        load = fh.read().split()[:3]
    print(
        json.dumps(
            {"commit": commit, "cpus": os.cpu_count(), "load_after": load, **summarise(results), "results": results},
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
