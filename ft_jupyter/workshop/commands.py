"""`ft-jupyter leaderboard` and `ft-jupyter workshop init`: the class's ranking and the teacher's one-command set-up."""

from __future__ import annotations

import argparse
import json
import sys

from ft_jupyter.workshop.setup import add_init_parser


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from ft_jupyter.config.presets import config_from
    from ft_jupyter.workshop.leaderboard import leaderboard

    baseline = config_from(args.baseline) if args.baseline else None
    board = leaderboard(args.runs_dir, task=args.task, baseline=baseline)
    sys.stdout.write((json.dumps(board.to_json(), indent=1) if args.json else board.table()) + "\n")
    return 0


def register(sub) -> None:
    p = sub.add_parser("leaderboard", help="rank the class's finished runs scored on the same held-out rows")
    p.add_argument("--runs-dir", default="runs", help="the (shared) runs root")
    p.add_argument("--task", help="only runs of this dataset (bundled name or file name) or run name")
    p.add_argument(
        "--baseline",
        metavar="PRESET_OR_YAML",
        help="show each run's changes against this config (default: what most runs of its group used)",
    )
    p.add_argument("--json", action="store_true", help="print the leaderboard as JSON")
    p.set_defaults(func=cmd_leaderboard)

    p = sub.add_parser("workshop", help="set up a class: lessons, a shared runs root and the server config")
    add_init_parser(p.add_subparsers(dest="workshop_command", required=True))
