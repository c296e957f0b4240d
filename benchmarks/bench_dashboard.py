"""Does watching a run slow it down? Wall time of the same tiny-model run with the live dashboard ÷ without.

Everything runs in one real Jupyter kernel (started with jupyter_client), the way a notebook runs it: training on
the background thread, the dashboard displayed so every redraw is serialised and sent over the kernel's ZMQ
sockets. Runs alternate A B B A ... so drift (other load on the machine, warm caches) hits both sides alike; the
first run is a warm-up and is not counted. Besides the wall-time ratio it reports the kernel process's CPU time
ratio (all threads: training, the dashboard, the kernel's messaging) and the time spent inside the dashboard's
observer call (event intake + every redraw), the direct cost on the training thread.

    .venv/bin/python benchmarks/bench_dashboard.py --pairs 3 --steps 80
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
import json, time
from IPython.display import display
from ft_jupyter.config import DataConfig, MethodConfig, ModelConfig, RunConfig, TrainingConfig
from ft_jupyter.ui.dashboard import Dashboard
from ft_jupyter.train.background import start_training

CONFIG = RunConfig(name="bench", runs_dir={runs_dir!r}, model=ModelConfig(name="tiny-random"),
                   method=MethodConfig(method="lora", r=8, alpha=16, dropout=0.0),
                   data=DataConfig(dataset="support-emails", max_rows=400),
                   training=TrainingConfig(max_steps={steps}, batch_size=8, learning_rate=5e-3,
                                           max_seq_len={max_seq_len}, eval_steps=0, seed=1))

def bench_once(with_dashboard):
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
    handle = start_training(CONFIG, observers)
    handle.wait()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    events = handle.run_dir.read_events(0)[0]
    steps = [e for e in events if e["type"] == "step"]
    loop = steps[-1]["time"] - steps[0]["time"]  # first to last step: the training loop alone
    print("BENCH " + json.dumps({{"dashboard": with_dashboard, "wall_s": wall, "loop_s": loop, "cpu_s": cpu,
                                  "steps": len(steps), "observer_s": spent[0],
                                  "redraws": board.redraws if board else 0}}))
"""


def run_in_kernel(pairs: int, steps: int, max_seq_len: int, runs_dir: str, timeout: float) -> list[dict]:
    from jupyter_client.manager import start_new_kernel

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    manager, client = start_new_kernel(kernel_name="python3", env=env)
    results: list[dict] = []

    def collect(msg: dict) -> None:
        if msg["msg_type"] == "stream":
            for line in msg["content"]["text"].splitlines():
                if line.startswith("BENCH "):
                    results.append(json.loads(line[len("BENCH "):]))
        elif msg["msg_type"] == "error":
            raise RuntimeError("\n".join(msg["content"]["traceback"]))

    try:
        setup = KERNEL_SETUP.format(runs_dir=runs_dir, steps=steps, max_seq_len=max_seq_len)
        client.execute_interactive(setup, timeout=timeout, output_hook=collect)
        order = [False] + [flag for i in range(pairs) for flag in ((False, True) if i % 2 == 0 else (True, False))]
        for with_dashboard in order:
            client.execute_interactive(f"bench_once({with_dashboard})", timeout=timeout, output_hook=collect)
            print(f"  {'dashboard' if with_dashboard else 'plain    '}: {results[-1]['wall_s']:.2f} s wall, "
                  f"{results[-1]['loop_s']:.2f} s loop", file=sys.stderr, flush=True)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return results[1:]  # the first run warms caches up


def summarise(results: list[dict]) -> dict:
    plain = [r for r in results if not r["dashboard"]]
    board = [r for r in results if r["dashboard"]]
    # Runs alternate A B B A ..., so the i-th plain and i-th dashboard runs are neighbours: compare them in pairs.
    ratio = {key: statistics.median(b[key] / p[key] for p, b in zip(plain, board)) for key in ("wall_s", "loop_s", "cpu_s")}
    observer_share = statistics.median(b["observer_s"] / b["loop_s"] for b in board)
    return {"runs_each": len(plain), "steps": board[0]["steps"],
            "plain_wall_s": statistics.median(p["wall_s"] for p in plain),
            "dashboard_wall_s": statistics.median(b["wall_s"] for b in board),
            "wall_ratio_median_of_pairs": ratio["wall_s"], "loop_ratio_median_of_pairs": ratio["loop_s"],
            "cpu_ratio_median_of_pairs": ratio["cpu_s"],
            "wall_ratio_of_totals": sum(b["wall_s"] for b in board) / sum(p["wall_s"] for p in plain),
            "observer_share_of_loop": observer_share,
            "redraws": statistics.median(b["redraws"] for b in board)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="runs with and without the dashboard, each")
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--max-seq-len", type=int, default=128)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as runs_dir:
        results = run_in_kernel(args.pairs, args.steps, args.max_seq_len, runs_dir, args.timeout)
    summary = summarise(results)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip()
    print(json.dumps({"commit": commit, "cpus": os.cpu_count(), **summary, "runs": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
