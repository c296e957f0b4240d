"""`ft-jupyter train | runs list|show|stop | resume | eject`: the headless twin of the notebook's training flow.

Same code path as notebooks (`run_training`, `resume`, the run folders); progress prints as text with ETA, and the
first Ctrl-C stops gracefully at the end of the step with the adapter (and a checkpoint, when enabled) saved.
"""

from __future__ import annotations

import argparse
import json
import time

from ft_jupyter.config import ConfigError, RunConfig, preset
from ft_jupyter.config.form import set_from_command_line
from ft_jupyter.config.presets import PRESETS, config_from
from ft_jupyter.train.store import LIVE_STATES, RunDir, RunStore, current_user

FAILED = 1


def _report(result) -> int:
    print(f"{result.state}: {result.artifact_path}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from ft_jupyter.train import run_training
    from ft_jupyter.train.console import ConsoleProgress

    config = RunConfig.load(args.config) if args.config else preset(args.preset)
    if args.set:
        config = set_from_command_line(config, args.set)
    try:
        return _report(run_training(config, [ConsoleProgress()]))
    except ConfigError:
        raise  # main() prints it as a one-line error
    except Exception as exc:  # the console already showed the failure; status.json keeps the traceback
        print(
            f"The run failed: {type(exc).__name__}: {exc}\nThe full traceback is in the run's status.json "
            f"(ft-jupyter runs show ID --runs-dir {config.runs_dir})."
        )
        return FAILED


def cmd_resume(args: argparse.Namespace) -> int:
    from ft_jupyter.train import resume
    from ft_jupyter.train.console import ConsoleProgress

    run = RunStore(args.runs_dir).get(args.run_id)
    try:
        return _report(resume(run, [ConsoleProgress()]))
    except ConfigError:
        raise
    except Exception as exc:
        print(f"The run failed again: {type(exc).__name__}: {exc}")
        return FAILED


def _progress(status: dict) -> str:
    step, total = status.get("step"), status.get("max_steps")
    if step is None and total is None:
        return "-"
    return f"{step if step is not None else 0}/{total if total is not None else '?'}"


def cmd_runs_list(args: argparse.Namespace) -> int:
    runs = RunStore(args.runs_dir).list_runs()
    if not runs:
        print(f"No runs under {args.runs_dir}/ yet; start one with `ft-jupyter train CONFIG.yaml`.")
        return 0
    print(f"{'RUN':<36} {'OWNER':<10} {'STATE':<9} {'STEP':>9}  MESSAGE")
    for run in runs:
        status = run.status()
        message = str(status.get("message", ""))
        print(
            f"{run.run_id:<36} {run.owner(status):<10} {status.get('state', '?'):<9} {_progress(status):>9}  "
            f"{message[:60] + ('…' if len(message) > 60 else '')}"
        )
    return 0


def _last_of(events: list[dict], kind: str) -> dict | None:
    return next((e for e in reversed(events) if e["type"] == kind), None)


def cmd_runs_show(args: argparse.Namespace) -> int:
    run = RunStore(args.runs_dir).get(args.run_id)
    status, config = run.status(), run.config()
    events, _ = run.read_events(0)
    updated = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(status.get("updated", 0)))
    print(f"Run {run.run_id}: {status.get('state')} (updated {updated})\n  {status.get('message', '')}")
    print(
        f"  model {config.model.name} | method {config.method.method} | data {config.data.dataset} | "
        f"lr {config.training.learning_rate:g} | batch {config.training.batch_size}×{config.training.grad_accum}"
    )
    step = _last_of(events, "step")
    if step:
        print(
            f"  step {step['step']}/{step['max_steps']}: loss {step['loss']}, "
            f"{step.get('tokens_seen', 0):,} tokens seen, cost so far {step.get('cost_so_far', 0.0):.2f}"
        )
    evaluation = _last_of(events, "evaluation")
    if evaluation:
        print(f"  last eval (step {evaluation['step']}): loss {evaluation['eval_loss']}")
    for warning in (e for e in events if e["type"] == "warning"):
        print(f"  warning ({warning['code']}): {warning['message']}")
    checkpoints = run.checkpoints()
    print(f"  checkpoints: {', '.join(p.name for p in checkpoints) or 'none'}")
    artifact = run.artifact_path()
    print(f"  result: {artifact if artifact else 'not saved yet'}")
    if args.json:
        print(json.dumps(status, indent=1))
    return 0


def cmd_runs_stop(args: argparse.Namespace) -> int:
    run: RunDir = RunStore(args.runs_dir).get(args.run_id)
    state = run.status().get("state")
    if state not in LIVE_STATES:
        print(f"Run {run.run_id} is {state}; nothing to stop.")
        return 0
    refusal = run.write_refusal(current_user())
    if refusal:
        raise ConfigError(f"Not stopped: {refusal} An instructor stops it from the JupyterLab sidebar.")
    run.request_stop(args.reason)
    print(f"Asked {run.run_id} to stop; it ends after its current step, with the adapter saved.")
    return 0


def cmd_eject(args: argparse.Namespace) -> int:
    from ft_jupyter.train.eject import eject
    from ft_jupyter.train.eject_script import ALWAYS_LEFT_OUT

    config = config_from(args.config)
    if args.set:
        config = set_from_command_line(config, args.set)
    result = eject(config, args.output, overwrite=args.overwrite)
    print(f"Wrote a plain TRL project to {result.folder}:")
    for path in result.files:
        print(f"  {path.relative_to(result.folder)}")
    print("Kit extras this config uses that train.py does not have:")
    for line in result.extras_not_included or ["none"]:
        print(f"  - {line}")
    print("Always left out (they watch and report on a run, they do not change it):")
    for line in ALWAYS_LEFT_OUT:
        print(f"  - {line}")
    print(f"Run it: cd {result.folder} && python train.py   (README.md: several processes, DeepSpeed, FSDP, clusters)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="train from a YAML config (Ctrl-C stops gracefully)")
    p.add_argument("config", nargs="?", help="run config YAML (default: --preset)")
    p.add_argument("--preset", default="cpu-quickstart", choices=sorted(PRESETS))
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field, e.g. --set training.learning_rate=1e-4 (repeatable)",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("resume", help="continue a stopped or interrupted run from its last checkpoint")
    p.add_argument("run_id")
    p.add_argument("--runs-dir", default="runs")
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("eject", help="write the run config as a plain TRL script with its data and launch configs")
    p.add_argument("config", help="run config YAML, or a preset name (" + ", ".join(sorted(PRESETS)) + ")")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder to create (new or empty)")
    p.add_argument("--overwrite", action="store_true", help="replace DIR and everything in it")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field, e.g. --set training.max_steps=100 (repeatable)",
    )
    p.set_defaults(func=cmd_eject)

    runs = sub.add_parser("runs", help="list, inspect and stop runs").add_subparsers(dest="runs_command", required=True)
    p = runs.add_parser("list", help="every run, newest first, with its state")
    p.add_argument("--runs-dir", default="runs")
    p.set_defaults(func=cmd_runs_list)
    p = runs.add_parser("show", help="one run: status, config, last step, warnings, checkpoints")
    p.add_argument("run_id")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--json", action="store_true", help="also print status.json")
    p.set_defaults(func=cmd_runs_show)
    p = runs.add_parser("stop", help="ask a running run to stop after its current step (writes its STOP file)")
    p.add_argument("run_id")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--reason", default="stopped from the command line")
    p.set_defaults(func=cmd_runs_stop)
