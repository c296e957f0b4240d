"""`ft-jupyter launch` / `ui.launch`: one run on several processes through accelerate (DDP) or DeepSpeed (ZeRO), with
the same run folder, dashboard, sidebar and Stop as a single-process run.

    handle = start_launch(config, processes=2, strategy="ddp")   # returns once the processes are started
    handle.run_dir          # runs/<run-id>/: follow it like any run (ui.open_run, the sidebar)
    handle.stop()           # writes STOP: every rank ends after the same step, the adapter is saved
    handle.wait()           # the final status; a rank that died marks the run failed with its own error

The run folder gets launch/accelerate.yaml, launch/deepspeed.json (ZeRO), launch/command.txt (the exact command, to
rerun by hand or on a cluster) and launch/launch.log (every process's console output).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import yaml

from ft_jupyter.config import ConfigError, RunConfig
from ft_jupyter.config.form import set_from_command_line
from ft_jupyter.train.launch_configs import accelerate_config, check_launch, decoder_layer_class, deepspeed_config
from ft_jupyter.train.store import SAVED_END_STATES, RunDir, RunStore
from ft_jupyter.train.translate import STRATEGY_ENV


def write_launch_files(
    config: RunConfig, run: RunDir, *, processes: int, strategy: str, offload: bool, cuda: bool
) -> list[str]:
    """The accelerate config (and DeepSpeed JSON) in run/launch/, and the command that uses them."""
    folder = run.path / "launch"
    folder.mkdir(exist_ok=True)
    ds_file = None
    if strategy.startswith("zero"):
        ds_file = folder / "deepspeed.json"
        ds_file.write_text(json.dumps(deepspeed_config(strategy, offload), indent=1), encoding="utf-8")
    precision = (
        "fp32" if not cuda else ("bf16" if config.training.precision in ("auto", "bf16") else config.training.precision)
    )
    settings = accelerate_config(
        strategy,
        processes,
        cuda=cuda,
        precision=precision,
        deepspeed_file=str(ds_file) if ds_file else None,
        wrap_class=decoder_layer_class(config) if strategy == "fsdp" else None,
    )
    (folder / "accelerate.yaml").write_text(yaml.safe_dump(settings, sort_keys=True), encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(folder / "accelerate.yaml"),
        "--main_process_port",
        str(free_port()),
        "-m",
        "ft_jupyter.train.worker",
        str(run.path),
    ]
    (folder / "command.txt").write_text(
        f"{STRATEGY_ENV}={strategy} FT_JUPYTER_EXPECTED_PROCESSES={processes} FT_JUPYTER_RUN_ID={run.run_id} "
        + shlex.join(command)
        + "\n",
        encoding="utf-8",
    )
    return command


def free_port() -> int:
    import socket

    # Two launches at once (a class on one machine) must not fight over accelerate's default port 29500.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_threads(processes: int, asked: str, cores: int) -> int:
    """Threads per CPU process. Torch starts one per core in every process; N processes then run N× more threads
    than cores and wait on each other (see benchmarks/RESULTS.md). A user's OMP_NUM_THREADS that fits is kept."""
    if asked.isdigit() and 0 < int(asked) * processes <= cores:
        return int(asked)
    return max(1, cores // processes)


class LaunchHandle:
    def __init__(self, run_dir: RunDir, process: subprocess.Popen, processes: int, strategy: str):
        self.run_dir, self.process, self.processes, self.strategy = run_dir, process, processes, strategy
        self.returncode: int | None = None
        self.dashboard = None  # the live view, when ui.launch drew one
        self._waiter = threading.Thread(target=self._wait, daemon=True, name=f"launch {run_dir.run_id}")
        self._waiter.start()

    def _wait(self) -> None:
        self.returncode = self.process.wait()
        finalise(self.run_dir, self.returncode)

    @property
    def done(self) -> bool:
        return not self._waiter.is_alive()

    def stop(self, reason: str = "stopped from the notebook") -> None:
        """Graceful: every rank stops after the same step and the adapter is saved."""
        self.run_dir.request_stop(reason)

    def kill(self) -> None:
        """At once: every process of the launch gets SIGTERM (a first SIGTERM is still a graceful stop per rank)."""
        os.killpg(self.process.pid, signal.SIGTERM)

    def wait(self, timeout: float | None = None) -> dict[str, Any]:
        self._waiter.join(timeout)
        return self.run_dir.status()

    def __repr__(self) -> str:
        return (
            f"<launch of {self.run_dir.run_id}: {self.processes} processes, {self.strategy}, "
            f"{self.run_dir.status().get('state')}>"
        )


def start_launch(
    config: RunConfig, *, processes: int = 2, strategy: str = "ddp", offload: bool = False
) -> LaunchHandle:
    """Create the run folder, write the launch files and start every process; returns at once."""
    import torch

    cuda = torch.cuda.is_available()
    check_launch(strategy, processes, offload, cuda=cuda)
    if cuda and processes > torch.cuda.device_count():
        raise ConfigError(
            f"{processes} processes but this machine has {torch.cuda.device_count()} GPU(s); use at "
            "most one process per GPU."
        )
    run = RunStore(config.runs_dir).create(config)
    command = write_launch_files(config, run, processes=processes, strategy=strategy, offload=offload, cuda=cuda)
    env = {
        **os.environ,
        STRATEGY_ENV: strategy,
        "FT_JUPYTER_EXPECTED_PROCESSES": str(processes),
        "FT_JUPYTER_RUN_ID": run.run_id,
        "FT_JUPYTER_PROGRESS": "0",
    }
    if not cuda:
        env["OMP_NUM_THREADS"] = str(cpu_threads(processes, os.environ.get("OMP_NUM_THREADS", ""), os.cpu_count() or 1))
    run.set_status("queued", f"launching {processes} processes ({strategy})", processes=processes, strategy=strategy)
    with open(run.path / "launch" / "launch.log", "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    return LaunchHandle(run, process, processes, strategy)


def finalise(run: RunDir, returncode: int) -> None:
    """After the launch ended, make the run folder tell the truth. When a rank dies, the others fail next with
    broken-connection errors, so the run is marked failed with the cause: the error of the rank torch's launcher
    names as the first failure (or of the first other rank that wrote one), a rank killed without a Python error
    (out of memory, a signal), or the exit code when nothing else is known."""
    from ft_jupyter.train.events import Failed

    state = run.status().get("state")
    folder = run.path / "launch"
    errors = {int(p.stem.split("-")[1]): p for p in folder.glob("rank-*.error")}
    log = (
        (folder / "launch.log").read_text(encoding="utf-8", errors="replace")
        if (folder / "launch.log").is_file()
        else ""
    )
    root = root_cause(log)
    if returncode == 0 and not errors and state in SAVED_END_STATES:
        return
    culprit = root[0] if root and root[0] in errors else min((r for r in errors if r != 0), default=None)
    if culprit is not None:
        message = f"rank {culprit} failed: {errors[culprit].read_text(encoding='utf-8').splitlines()[0]}"
    elif root is not None and root[0] != 0:
        message = (
            f"rank {root[0]} died ({root[1]}) without a Python error: killed, e.g. for memory; the other "
            "processes then failed on the lost connection."
        )
    elif state == "failed":
        return  # rank 0 failed first and recorded its own error, with its traceback
    else:
        tail = log.strip().splitlines()
        message = (
            f"the launch ended with exit code {returncode} before the run finished; last output: "
            f"{tail[-1] if tail else '(none)'}"
        )
    run.append_event(
        Failed(
            step=int(run.status().get("step") or 0),
            error=message,
            advice="every process's output is in launch/launch.log in the run folder",
        ).to_json()
    )
    run.set_status("failed", message, returncode=returncode)


def root_cause(log: str) -> tuple[int, str] | None:
    """(rank, how it ended) of the "Root Cause (first observed failure)" torch's launcher prints, if any."""
    import re

    block = log.split("Root Cause (first observed failure)", 1)
    if len(block) < 2:
        return None
    rank = re.search(r"rank\s*:\s*(\d+)", block[1])
    code = re.search(r"exitcode\s*:\s*(-?\d+)[^\n]*?(\((SIG\w+)\))?\s*$", block[1], re.MULTILINE)
    if rank is None:
        return None
    how = "unknown exit" if code is None else (code.group(3) or f"exit code {code.group(1)}")
    return int(rank.group(1)), how


def follow(handle: LaunchHandle, poll_s: float = 0.5) -> dict[str, Any]:
    """Console twin of the dashboard: print rank 0's progress from events.jsonl until the launch ends. The first
    Ctrl-C asks every rank for a graceful stop; a second one terminates the processes."""
    from ft_jupyter.train.console import ConsoleProgress
    from ft_jupyter.train.events import event_from_json

    progress, offset, stopping = ConsoleProgress(), 0, False
    while True:
        try:
            events, offset = handle.run_dir.read_events(offset)
            for event in events:
                progress(event_from_json(event))
            if handle.done:
                events, offset = handle.run_dir.read_events(offset)
                for event in events:
                    progress(event_from_json(event))
                return handle.run_dir.status()
            time.sleep(poll_s)
        except KeyboardInterrupt:
            if stopping:
                handle.kill()
            else:
                stopping = True
                handle.stop("interrupted (Ctrl-C of the launcher)")
                print("stopping after the current step (Ctrl-C again to terminate)", file=sys.stderr)


def cmd_launch(args) -> int:
    from ft_jupyter.config import preset

    config = RunConfig.load(args.config) if args.config.endswith((".yaml", ".yml")) else preset(args.config)
    if args.set:
        config = set_from_command_line(config, args.set)
    handle = start_launch(config, processes=args.processes, strategy=args.strategy, offload=args.offload)
    print(
        f"launched {args.processes} processes ({args.strategy}) into {handle.run_dir.path}; command in "
        f"launch/command.txt, output in launch/launch.log",
        flush=True,
    )
    status = follow(handle)
    print(f"{status.get('state')}: {status.get('message', '')}")
    return 0 if status.get("state") in SAVED_END_STATES else 1


def register(sub) -> None:
    from ft_jupyter.train.launch_configs import STRATEGIES

    p = sub.add_parser(
        "launch",
        help="train one run on several processes (GPUs, or CPU processes) through "
        "accelerate / DeepSpeed, into one run folder",
    )
    p.add_argument("config", help="run config YAML, or a preset name")
    p.add_argument("--processes", type=int, default=2, help="processes: one per GPU (default 2)")
    p.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="ddp",
        help="ddp replicates; zero1/2/3 shard optimizer / +gradients / +weights (DeepSpeed); fsdp "
        "shards like zero3 (GPUs only)",
    )
    p.add_argument(
        "--offload", action="store_true", help="ZeRO: keep optimizer states (zero3: weights too) in CPU memory"
    )
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=cmd_launch)
