"""A class's sidebars polling one shared runs root while a run trains on the same machine.

    python benchmarks/bench_polling.py                    # 30 pollers, 30 s per mode, SmolLM2 training alongside
    python benchmarks/bench_polling.py --pollers 20 --seconds 20 --model tiny-random

A real jupyter server (loopback, token) serves a runs root holding one finished run per participant (400 logged
steps each, like a lesson's run) plus a real training run started with `ft-jupyter train`. Each poller behaves like
one participant's sidebar set to the class view: every `--interval` seconds (the sidebar's default, 2 s) it asks for
the run list, staggered so the class does not poll in lockstep. Two modes, one after the other against the same
server and the same training run:

  history      the list, then one finished run's whole event history again (`events?since=0`, following the
               pages), what a reader that re-reads a long run's history pays on every poll;
  incremental  the list alone: each run's progress and thinned loss series come inside it, read once per change
               by the server for all pollers.

Every request's latency is recorded (p50/p95/p99/max), with errors and bytes per poll. Record the printed table in
benchmarks/RESULTS.md with the commit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOKEN = "bench-token"


def seed_class(root: Path, participants: int, steps: int) -> None:
    """One finished run per participant, each with `steps` logged steps and an evaluation."""
    from ft_jupyter.config import RunConfig
    from ft_jupyter.train.events import Evaluation, Finished, RunStarted, Step
    from ft_jupyter.train.store import RunStore

    for i in range(participants):
        config = RunConfig(name=f"participant{i:02d}")
        run = RunStore(root).create(config)
        run.set_status("finished", "finished", owner=f"user{i:02d}")
        lines = [
            RunStarted(
                run_id=run.run_id,
                config=config.to_dict(),
                device="cpu",
                precision="fp32",
                precision_reason="",
                params_total=1,
                params_trainable=1,
                train_rows=1,
                eval_rows=1,
                max_steps=steps,
            ).to_json()
        ]
        for step in range(1, steps + 1):
            lines.append(
                Step(
                    step=step,
                    max_steps=steps,
                    epoch=step / steps,
                    loss=3.0 / step**0.3,
                    learning_rate=2e-4,
                    grad_norm=1.0,
                    tokens_seen=step * 900,
                    tokens_per_second=450.0,
                    memory_mb=900.0,
                    elapsed_s=step * 2.0,
                    eta_s=(steps - step) * 2.0,
                ).to_json()
            )
        lines.append(Evaluation(step=steps, eval_loss=1.2).to_json())
        lines.append(Finished(step=steps, train_loss=1.1, elapsed_s=steps * 2.0, artifact_path="adapter").to_json())
        run.events_path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def start_server(root: Path, port: int, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
            "--FtJupyter.runs_dir=runs",
            "--allow-root",
            "--ServerApp.log_level=WARN",
        ],
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def start_training(root: Path, model: str) -> subprocess.Popen:
    ft = str(Path(sys.executable).with_name("ft-jupyter"))
    return subprocess.Popen(
        [
            ft,
            "train",
            "--preset",
            "cpu-quickstart",
            "--set",
            f"model.name={model}",
            "--set",
            "name=live",
            "--set",
            f"runs_dir={root / 'runs'}",
            "--set",
            "training.max_steps=100000",
            "--set",
            "training.save_steps=0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "FT_JUPYTER_PROGRESS": "0"},
    )


async def poller(client, base: str, mode: str, history_id: str, interval: float, until: float, out: dict) -> None:
    from tornado.httpclient import HTTPClientError

    await asyncio.sleep(random.uniform(0, interval))  # participants do not poll in lockstep
    headers = {"Authorization": f"token {TOKEN}"}
    while time.monotonic() < until:
        tick = time.monotonic()
        size, path, since = 0, "runs?scope=class", 0
        while path:
            start = time.perf_counter()
            try:
                response = await client.fetch(f"{base}/ft-jupyter/{path}", headers=headers, request_timeout=10)
                size += len(response.body)
                page = json.loads(response.body)
            except (HTTPClientError, OSError, asyncio.TimeoutError, ValueError) as error:
                out["errors"].append(str(error))
                page = {}
            out["latencies"].append((time.perf_counter() - start) * 1000)
            if mode == "history" and "runs" in page:
                path = f"runs/{history_id}/events?since=0"
            elif mode == "history" and page.get("more"):
                since = page["next"]
                path = f"runs/{history_id}/events?since={since}"
            else:
                path = None
        out["bytes"].append(size)
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - tick)))


async def measure(base: str, mode: str, history_id: str, pollers: int, seconds: float, interval: float) -> dict:
    from tornado.httpclient import AsyncHTTPClient

    client = AsyncHTTPClient(max_clients=pollers * 2)
    out: dict = {"latencies": [], "errors": [], "bytes": []}
    until = time.monotonic() + seconds
    await asyncio.gather(*(poller(client, base, mode, history_id, interval, until, out) for _ in range(pollers)))
    lat = sorted(out["latencies"])

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))]

    return {
        "mode": mode,
        "requests": len(lat),
        "errors": len(out["errors"]),
        "p50_ms": statistics.median(lat),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": lat[-1],
        "kb_per_poll": statistics.mean(out["bytes"]) / 1024,
        "first_error": out["errors"][:1],
    }


def wait_for(predicate, what: str, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


def live_run(root: Path) -> str | None:
    for path in (root / "runs").glob("*-live"):
        events = path / "events.jsonl"
        if events.is_file() and sum(1 for line in events.open() if '"type": "step"' in line) >= 3:
            return path.name
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pollers", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between one sidebar's polls")
    parser.add_argument("--steps", type=int, default=400, help="logged steps of each participant's finished run")
    parser.add_argument("--model", default="smollm2-135m-instruct", help="model of the run that trains alongside")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ft-bench-poll-"))
    seed_class(work / "runs", args.pollers, args.steps)
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    number = port.getsockname()[1]
    port.close()
    server = start_server(work, number, work / "server.log")
    training = start_training(work, args.model)
    base = f"http://127.0.0.1:{number}"
    try:
        live_id = wait_for(lambda: live_run(work), "the training run's first steps", 600)
        history_id = sorted(p.name for p in (work / "runs").glob("*-participant00"))[0]
        rows = []
        for mode in ("history", "incremental"):
            rows.append(asyncio.run(measure(base, mode, history_id, args.pollers, args.seconds, args.interval)))
        steps = sum(1 for line in (work / "runs" / live_id / "events.jsonl").open() if '"type": "step"' in line)
    finally:
        training.terminate()
        server.terminate()
        training.wait(timeout=60)
        server.wait(timeout=30)
    print(
        f"{args.pollers} pollers every {args.interval:g} s for {args.seconds:g} s per mode, class view of "
        f"{args.pollers + 1} runs ({args.steps} logged steps each), while {args.model} trained ({steps} steps "
        f"logged by the end); {os.cpu_count()} CPUs"
    )
    print(
        f"{'mode':<12} {'requests':>8} {'errors':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'KB/poll':>8}"
    )
    for r in rows:
        print(
            f"{r['mode']:<12} {r['requests']:>8} {r['errors']:>6} {r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f} "
            f"{r['p99_ms']:>7.1f} {r['max_ms']:>7.1f} {r['kb_per_poll']:>8.1f}"
        )
        if r["first_error"]:
            print(f"  first error: {r['first_error'][0]}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
