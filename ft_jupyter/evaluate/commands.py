"""`ft-jupyter estimate | forecast | compare | forgetting | latency | cost | checklist`: the headless twins of the
pre-flight strip and the evaluation lesson. Heavy libraries load only inside the handlers."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ft_jupyter.config import ConfigError, RunConfig
from ft_jupyter.config.form import apply_edit, apply_edits, apply_option, choose_method
from ft_jupyter.config.semantics import METHODS, OPTIONS
from ft_jupyter.evaluate.throughput import GPU_CLASSES
from ft_jupyter.models.sharding import STRATEGIES

GPU_NAMES = [g.name for g in GPU_CLASSES]


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    sys.stdout.write((json.dumps(data, indent=1, default=str) if args.json else text) + "\n")


def _estimate_config(args: argparse.Namespace) -> tuple[RunConfig, tuple[str, ...]]:
    """The config the estimate flags describe, edited as the panel and the sidebar edit it (`config.form`), and the
    notes saying what each flag changed besides its own field."""
    config = RunConfig.load(args.config) if args.config else RunConfig()
    options = ["alpha_follows_r"] if args.alpha_follows_r else []
    steps = [apply_edit(config.to_dict(), "model.name", args.model, options=options)]
    if args.method:
        steps.append(choose_method(steps[-1].config, args.method, options=options))
    if args.lora_r:
        steps.append(apply_edit(steps[-1].config, "method.r", args.lora_r, options=options))
    elif options:
        steps.append(apply_option(steps[-1].config, "alpha_follows_r"))
    steps.append(apply_edits(steps[-1].config, _plain_overrides(args), options=options))
    return RunConfig.from_dict(steps[-1].config), tuple(note for step in steps for note in step.notes)


def _plain_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if args.targets:
        targets = [t.strip() for t in args.targets.split(",") if t.strip()]
        if targets in (["all-linear"], ["attention"], ["attention-qv"]):
            overrides.update({"method.target_preset": targets[0], "method.target_modules": []})
        else:
            overrides.update({"method.target_preset": "custom", "method.target_modules": targets})
    for value, key in (
        (args.batch_size, "training.batch_size"),
        (args.max_seq_len, "training.max_seq_len"),
        (args.optimizer, "training.optimizer"),
    ):
        if value is not None:
            overrides[key] = value
    if args.gradient_checkpointing:
        overrides["training.gradient_checkpointing"] = True
    return overrides


def cmd_estimate(args: argparse.Namespace) -> int:
    from ft_jupyter.models.estimate import estimate_run

    config, notes = _estimate_config(args)
    for note in notes:
        sys.stderr.write(f"note: {note}\n")
    # Without a run config, "the bundled emails" would be an arbitrary choice of data: size by max_seq_len.
    est = estimate_run(
        config,
        device=args.device,
        measure_data=bool(args.config),
        gpus=args.gpus,
        strategy=args.strategy,
        offload=args.offload,
    )
    _emit(args, est.to_json(), est.to_text())
    return 0


def cmd_forecast(args: argparse.Namespace) -> int:
    from ft_jupyter.evaluate.forecast import forecast_run, forecast_vs_actual

    if args.run:
        if args.config:
            raise ConfigError("Give a run config or --run RUN_ID, not both: with --run the run's own config is used.")
        check = forecast_vs_actual(args.run, runs_dir=args.runs_dir, gpu=args.gpu, probe=args.probe)
        _emit(args, check.to_json(), check.to_text())
        return 0
    if not args.config:
        raise ConfigError(
            "Give the run config to forecast (a YAML file), or --run RUN_ID to compare a finished run "
            "with its forecast."
        )
    forecast = forecast_run(RunConfig.load(args.config), gpu=args.gpu, gpus=args.gpus, probe=args.probe)
    _emit(args, forecast.to_json(), forecast.to_text())
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ft_jupyter.evaluate.comparison import compare

    result = compare(
        args.run, runs_dir=args.runs_dir, max_rows=args.max_rows, shots=args.shots, retrieval=not args.no_retrieval
    )
    _emit(args, result.to_json(), result.table())
    return 0


def cmd_learning_curve(args: argparse.Namespace) -> int:
    from ft_jupyter.config.presets import config_from
    from ft_jupyter.evaluate.learning_curve import learning_curve

    try:
        sizes = [0 if s.strip() == "all" else int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(
            f"--sizes {args.sizes!r}: give training-row counts separated by commas, e.g. 50,150,all."
        ) from None
    curve = learning_curve(
        config_from(args.config), sizes, max_rows=args.max_rows, shots=args.shots, baselines=not args.no_baselines
    )
    _emit(args, curve.to_json(), curve.table())
    return 0


def cmd_forgetting(args: argparse.Namespace) -> int:
    from ft_jupyter.evaluate.forgetting import forgetting_check

    report = forgetting_check(args.run, runs_dir=args.runs_dir, threshold=args.threshold, max_texts=args.max_texts)
    _emit(args, report.to_json(), str(report))
    return 1 if report.flagged else 0


def cmd_latency(args: argparse.Namespace) -> int:
    from ft_jupyter.evaluate.latency import run_latency

    reports = run_latency(
        args.run,
        runs_dir=args.runs_dir,
        n=args.n,
        max_new_tokens=args.max_new_tokens,
        price_per_hour=args.price_per_hour,
    )
    _emit(args, {k: v.to_json() for k, v in reports.items()}, "\n".join(f"{k}: {v}" for k, v in reports.items()))
    return 0


def cmd_cost(args: argparse.Namespace) -> int:
    from ft_jupyter.evaluate.economics import cost_crossover, training_cost

    spent = args.training_cost
    lines = []
    if args.run:
        run_cost = training_cost(args.run, runs_dir=args.runs_dir, price_per_hour=args.price_per_hour)
        lines.append(f"Training: {run_cost}")
        spent = run_cost.cost if spent is None else spent
    if spent is None:
        raise ConfigError("Give the training cost: --training-cost DOLLARS, or --run RUN_ID with --price-per-hour.")
    crossover = cost_crossover(
        api_prompt_tokens=args.api_prompt_tokens,
        tuned_prompt_tokens=args.tuned_prompt_tokens,
        price_per_million=args.price_per_million,
        tuned_price_per_million=args.tuned_price_per_million,
        training_cost=spent,
        tuned_cost_per_1k=args.tuned_cost_per_1k,
    )
    _emit(args, crossover.to_json(), "\n".join(lines + [str(crossover)]))
    return 0


def cmd_checklist(args: argparse.Namespace) -> int:
    from ft_jupyter.evaluate.checklist import budget_checklist

    checklist = budget_checklist(args.run, runs_dir=args.runs_dir)
    _emit(args, checklist.to_json(), str(checklist))
    return 0


def _run_parser(sub, name: str, help: str, handler) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help)
    p.add_argument("run", help="run id under --runs-dir, or a run folder")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=handler)
    return p


def register(sub) -> None:
    p = sub.add_parser("estimate", help="parameters, trainable parameters, memory and GPU fit, offline, no weights")
    p.add_argument("model", help="catalogue name, hub id (table or local cache), model folder or config.json")
    p.add_argument("--config", help="start from this run config YAML (its data sizes the sequence length)")
    p.add_argument(
        "--method",
        choices=[choice.key for choice in METHODS],
        help="method and the base's quantization together: " + "; ".join(f"{c.key}: {c.label}" for c in METHODS),
    )
    p.add_argument("--lora-r", type=int, help="LoRA rank (alpha stays as the config has it, unless --alpha-follows-r)")
    p.add_argument(
        OPTIONS["alpha_follows_r"].flag,
        dest="alpha_follows_r",
        action="store_true",
        help=f"{OPTIONS['alpha_follows_r'].label}: {OPTIONS['alpha_follows_r'].help}",
    )
    p.add_argument("--targets", help="comma-separated module names, or all-linear / attention / attention-qv")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--max-seq-len", type=int)
    p.add_argument("--optimizer", choices=("adamw", "adamw-8bit", "paged-adamw-8bit", "adafactor", "sgd"))
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="dtypes and runtime of (default: cuda)")
    p.add_argument("--gpus", type=int, default=1, help="GPUs (processes) the run is spread over; memory is per GPU")
    p.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="ddp",
        help="how the GPUs share the model: ddp "
        "replicates it, zero1/zero2/zero3 (DeepSpeed) and fsdp (full shard) split it (default: ddp)",
    )
    p.add_argument(
        "--offload",
        action="store_true",
        help="ZeRO-Offload / FSDP CPU offload: optimizer state (and with zero3/fsdp the weights) in CPU RAM",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_estimate)

    p = sub.add_parser("forecast", help="training time, GPU-hours and cost of a run before starting it")
    p.add_argument("config", nargs="?", help="run config YAML")
    p.add_argument("--gpu", help=f"GPU class for nominal figures: {', '.join(GPU_NAMES)} (default: A100-80GB)")
    p.add_argument("--gpus", type=int, default=1, help="GPUs the run is spread over (default 1)")
    p.add_argument(
        "--probe",
        action="store_true",
        help="measure this machine: train a few steps of the config first (seconds on a small model)",
    )
    p.add_argument("--run", help="compare this finished run (id or folder) with the forecast for its config")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_forecast)

    p = _run_parser(
        sub,
        "compare",
        "base zero-shot vs prompted (fixed and retrieved examples) vs fine-tuned on the test split",
        cmd_compare,
    )
    p.add_argument("--max-rows", type=int, help="score at most this many test rows")
    p.add_argument("--shots", type=int, help="few-shot examples from the training split (default: one per label)")
    p.add_argument(
        "--no-retrieval",
        action="store_true",
        help="leave out the rung whose examples are the most similar training rows (BM25)",
    )

    p = sub.add_parser(
        "learning-curve",
        help="train one config on growing subsets of its training rows and score each on the same test rows",
    )
    p.add_argument("config", help="run config YAML, or a preset name")
    p.add_argument(
        "--sizes",
        default="50,150,all",
        help="training-row counts, comma-separated; all = the whole training split (default 50,150,all)",
    )
    p.add_argument("--max-rows", type=int, help="score at most this many test rows")
    p.add_argument("--shots", type=int, help="examples for the prompted baselines (default: one per label)")
    p.add_argument("--no-baselines", action="store_true", help="skip scoring the prompted baselines once")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_learning_curve)

    p = _run_parser(sub, "forgetting", "general-text perplexity before and after fine-tuning", cmd_forgetting)
    p.add_argument("--threshold", type=float, default=0.10, help="flag a rise above this fraction (default 0.10)")
    p.add_argument("--max-texts", type=int)

    p = _run_parser(sub, "latency", "p50/p95 latency, tokens/s and cost per 1,000 requests", cmd_latency)
    p.add_argument("--n", type=int, default=20, help="timed requests (default 20)")
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--price-per-hour", type=float, help="hourly price of the serving machine (default: the run's)")

    _run_parser(sub, "checklist", "the budget checklist, filled in for a run", cmd_checklist)

    p = sub.add_parser("cost", help="training cost of a run and the cost crossover against a prompted API")
    p.add_argument("--run", help="take the training cost from this run (id or folder)")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--price-per-hour", type=float, help="with --run: price of the training machine per hour")
    p.add_argument("--training-cost", type=float, help="training cost in dollars (instead of --run)")
    p.add_argument("--api-prompt-tokens", type=int, default=1000, help="prompt tokens per API request (default 1000)")
    p.add_argument(
        "--tuned-prompt-tokens", type=int, default=50, help="prompt tokens per fine-tuned request (default 50)"
    )
    p.add_argument("--price-per-million", type=float, default=10.0, help="API $ per million input tokens (default 10)")
    p.add_argument(
        "--tuned-price-per-million",
        type=float,
        help="$ per million tokens for the fine-tuned model (default: same as the API)",
    )
    p.add_argument("--tuned-cost-per-1k", type=float, help="self-hosted: $ per 1,000 requests (see latency)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_cost)
