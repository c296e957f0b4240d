"""`ft-jupyter export | adapters`: the headless twins of the dashboard's Export section."""

from __future__ import annotations

import argparse
import json
import sys

from ft_jupyter.config import ConfigError


def _csv(text: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in (text or "").split(",") if t.strip())


def _sizes(text: str | None) -> tuple[int, ...]:
    try:
        sizes = tuple(int(t) for t in _csv(text))
    except ValueError:
        raise ConfigError(f"--throughput takes batch sizes like 1,4,16, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise ConfigError(f"--throughput batch sizes must be at least 1, got {text!r}")
    return sizes


def cmd_export(args: argparse.Namespace) -> int:
    from ft_jupyter.export.run import export_run

    report = export_run(
        args.run,
        runs_dir=args.runs_dir,
        dtype=args.dtype,
        gguf=_csv(args.gguf),
        lora_gguf=args.lora_gguf,
        ollama=args.ollama,
        quantized=_csv(args.quantized),
        throughput=_sizes(args.throughput),
        price_per_hour=args.price_per_hour,
        probes=args.probes,
    )
    sys.stdout.write((json.dumps(report.to_json(), indent=1, default=str) if args.json else str(report)) + "\n")
    return 0 if report.merge.ok else 1


def cmd_adapters(args: argparse.Namespace) -> int:
    from ft_jupyter.export.serving import AdapterServer

    server = AdapterServer.from_runs(args.runs, runs_dir=args.runs_dir)
    names = [*server.adapters, None]
    answers = server.generate(
        [(name, server.messages(name, args.prompt)) for name in names], max_new_tokens=args.max_new_tokens
    )
    for name, answer in zip(names, answers, strict=True):
        print(f"{name or 'base model':<40} {answer!r}")
    return 0


def register(sub) -> None:
    from ft_jupyter.export.merge import MERGE_DTYPES

    p = sub.add_parser(
        "export",
        help="merge the adapter and verify it; optionally GGUF, Ollama, quantized copies "
        "re-measured, batched throughput (everything under runs/<id>/export/)",
    )
    p.add_argument("run", help="run id under --runs-dir, or a run folder")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument(
        "--dtype",
        default="auto",
        choices=("auto", *MERGE_DTYPES),
        help="storage dtype of the merged weights (default: the base model's own)",
    )
    p.add_argument("--gguf", metavar="TYPES", help="GGUF files to write and check: f16, q8_0 (comma-separated)")
    p.add_argument("--lora-gguf", action="store_true", help="also the adapter alone as GGUF (Ollama's ADAPTER line)")
    p.add_argument("--ollama", action="store_true", help="write an Ollama Modelfile (needs --gguf)")
    p.add_argument(
        "--quantized",
        metavar="COPIES",
        help="score smaller copies on the test split: merged, 8bit, 4bit, q8_0 (comma-separated)",
    )
    p.add_argument("--throughput", metavar="SIZES", help="batched serving at these batch sizes, e.g. 1,4,16")
    p.add_argument(
        "--price-per-hour",
        type=float,
        help="serving machine $/h for cost per 1,000 requests (default: the run's training.price_per_hour)",
    )
    p.add_argument("--probes", type=int, default=8, help="test conversations the verification compares (default 8)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "adapters", help="several runs' adapters on one base: each answers the same prompt, in one batch"
    )
    p.add_argument("runs", nargs="+", help="run ids (or folders) trained on the same base model")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--prompt", required=True, help="the user message every adapter answers")
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.set_defaults(func=cmd_adapters)
