"""The quickstart demo's accuracy against its wall time: what `make demo` reaches for a given number of steps.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_demo.py                  # the preset as shipped
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_demo.py --steps 44 64 --set training.scheduler=wsd

Each point is a whole demo in a fresh process, exactly as `ft-jupyter demo` runs it: the base model zero-shot and
prompted, training, the fine-tuned model, all on the same 110 held-out emails with greedy generation. The process's
own wall time (imports included) is what the 5-minute target is about. Run it on an idle machine: a second job on a
2-core CPU doubles every figure. Prints one JSON line per point; append them to RESULTS.md's table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

POINT = """
import json, sys, time
from ft_jupyter.demo import quickstart_config, run_demo
overrides = json.loads(sys.argv[1])
result = run_demo(quickstart_config().with_overrides(overrides), say=lambda line: None)
print("RESULT " + json.dumps({"zero_shot": result.baseline_accuracy, "prompted": result.prompted_accuracy,
                              "finetuned": result.finetuned_accuracy, "train_s": round(result.train_time_s, 1),
                              "demo_s": round(result.wall_time_s, 1)}))
"""


def run_point(overrides: dict[str, str]) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "FT_JUPYTER_PROGRESS": "0"}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", POINT, json.dumps(overrides)], capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(f"the demo failed with {overrides}:\n{proc.stderr[-3000:]}")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    return {
        "overrides": overrides,
        **json.loads(line[7:]),
        "process_s": round(time.perf_counter() - started, 1),
        "load_1min": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="*", default=[], help="max_steps values (default: the preset's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="more overrides")
    args = parser.parse_args()
    extra = dict(pair.split("=", 1) for pair in args.set)
    for steps in args.steps or [None]:
        overrides = {**extra, **({"training.max_steps": str(steps)} if steps else {})}
        print(json.dumps(run_point(overrides)), flush=True)


if __name__ == "__main__":
    main()
