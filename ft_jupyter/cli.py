"""`ft-jupyter …`: the headless twin of every notebook flow."""

from __future__ import annotations

import argparse
import sys

from ft_jupyter import __version__
from ft_jupyter.config import ConfigError, RunConfig, preset
from ft_jupyter.config.form import set_from_command_line
from ft_jupyter.config.presets import PRESETS
from ft_jupyter.data import commands as data_commands
from ft_jupyter.evaluate import commands as evaluate_commands
from ft_jupyter.export import commands as export_commands
from ft_jupyter.train import commands as train_commands
from ft_jupyter.train import launch as launch_commands
from ft_jupyter.workshop import commands as workshop_commands


def cmd_demo(args: argparse.Namespace) -> int:
    from ft_jupyter.demo import quickstart_config, run_demo

    result = run_demo(quickstart_config(args.model, runs_dir=args.runs_dir))
    return 0 if result.finetuned_accuracy > result.baseline_accuracy else 1


def cmd_config(args: argparse.Namespace) -> int:
    config = preset(args.preset) if args.preset else RunConfig()
    if args.set:
        config = set_from_command_line(config, args.set)
    sys.stdout.write(config.to_yaml())
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from ft_jupyter.models.catalogue import CATALOGUE

    for entry in CATALOGUE.values():
        print(f"{entry.name:<24} {entry.parameters:>9}  {entry.license:<11} {entry.description}")
    print("Any Hugging Face hub id (online or cached) or local model folder also works.")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from ft_jupyter.checkup import doctor

    report = doctor()
    print(report.to_json() if args.json else report)
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ft-jupyter", description="Fine-tune open-weight LLMs (LoRA/QLoRA).")
    parser.add_argument("--version", action="version", version=f"ft-jupyter {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="baseline → LoRA fine-tune → accuracy after, on the bundled data")
    p.add_argument("--model", help="catalogue name, hub id or folder (default: $FT_JUPYTER_MODEL or SmolLM2)")
    p.add_argument("--runs-dir", default="runs")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("config", help="print a run config as YAML (defaults or a preset)")
    p.add_argument("--preset", choices=sorted(PRESETS))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("models", help="list the models that work offline")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("doctor", help="check this environment for the lessons: one line per check, with the fix")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_doctor)

    # Feature packages add their own sub-commands (each module's `register(sub)` adds parsers and handlers).
    data_commands.register(sub)
    train_commands.register(sub)
    launch_commands.register(sub)
    evaluate_commands.register(sub)
    export_commands.register(sub)
    workshop_commands.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:
        if (exc.name or "").startswith("ft_jupyter"):
            raise  # a broken install of the kit itself, not a missing dependency: keep the traceback
        from ft_jupyter.install import missing_module_message

        print(f"error: {missing_module_message(exc)}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
