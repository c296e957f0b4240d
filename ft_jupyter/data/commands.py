"""`ft-jupyter data check|convert|lengths|mask`: the headless twin of the data lesson."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from ft_jupyter.config import ConfigError, ModelConfig
from ft_jupyter.data.formats import FORMATS, RowError, messages_to_alpaca
from ft_jupyter.data.load import LoadedData, columns_mapping, load_data
from ft_jupyter.data.problems import DataError, Problem, problems_table
from ft_jupyter.data.validate import DEFAULT_MAX_ROW_CHARS

USABLE, NOT_USABLE = 0, 2


def _add_source_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="data file (.jsonl, .json, .csv, .parquet) or bundled dataset name")
    p.add_argument("--format", default="auto", choices=("auto", *FORMATS), help="row format (default: detect)")
    p.add_argument(
        "--columns",
        action="append",
        default=[],
        metavar="SOURCE=TARGET",
        help="rename a column, e.g. --columns body=text --columns category=label",
    )
    p.add_argument("--system-prompt", help="system message added to every conversation that has none")
    p.add_argument(
        "--max-row-chars",
        type=int,
        default=DEFAULT_MAX_ROW_CHARS,
        help="rows longer than this many characters are rejected",
    )


def _add_model_options(p: argparse.ArgumentParser, what: str, default: str | None = None) -> None:
    p.add_argument("--model", default=default, help=what)
    p.add_argument("--revision", help="with --model: the hub revision (branch, tag or commit), as model.revision")
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="with --model: run Python code shipped with the model repo, as model.trust_remote_code",
    )


def _load(args: argparse.Namespace, strict: bool) -> LoadedData:
    pairs = tuple(c for arg in args.columns for c in arg.split(",") if c.strip())
    return load_data(
        args.path,
        format=args.format,
        columns=columns_mapping(pairs),
        strict=strict,
        system_prompt=args.system_prompt,
        max_row_chars=args.max_row_chars,
    )


def cmd_check(args: argparse.Namespace) -> int:
    from ft_jupyter.data.cleaning import clean_report

    try:
        data = _load(args, strict=False)  # collect every problem; usability is judged below
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return NOT_USABLE
    report = clean_report(data.rows, data.labels)
    if args.json:
        json.dump(
            {
                "source": data.name,
                "format": data.format,
                "rows": data.total,
                "usable_rows": len(data.rows),
                "labels": data.labels,
                "problems": [p.to_dict() for p in data.problems],
                "cleaning": report.to_dict(),
            },
            sys.stdout,
            indent=1,
        )
        print()
    else:
        print(data.summary())
        print(f"\nValidation problems ({len(data.problems)}):")
        print(problems_table(data.problems, limit=args.limit))
        print()
        print(report.to_text())
    usable = bool(data.rows) and (args.lenient or not data.problems)
    if not args.json:
        if usable:
            print(
                f"\nUsable: {len(data.rows)} rows"
                + (f" ({len(data.problems)} bad rows will be skipped)" if data.problems else "")
                + "."
            )
        else:
            print(
                f"\nNot usable as it is: fix the {len(data.problems)} rows listed above, or skip them with "
                "--lenient here and data.strict: false in the run config."
            )
    if usable and args.model:
        _print_lengths(args, data)
    return USABLE if usable else NOT_USABLE


def _print_lengths(args: argparse.Namespace, data: LoadedData) -> None:
    from ft_jupyter.data.lengths import length_stats

    tokenizer, template = _tokenizer(args)
    stats = length_stats(tokenizer, {"all": data.rows}, template)
    print(f"\nToken lengths with {args.model}'s tokenizer and chat template:")
    print(stats.to_text(args.max_seq_len))


def _tokenizer(args: argparse.Namespace):
    """The tokenizer training would use for --model (with --revision and --trust-remote-code), and its training
    chat template."""
    from ft_jupyter.data.templates import training_template
    from ft_jupyter.models.loading import load_tokenizer

    model = ModelConfig(name=args.model, revision=args.revision, trust_remote_code=args.trust_remote_code)
    tokenizer = load_tokenizer(model)
    return tokenizer, training_template(tokenizer).template


def _converted_rows(data: LoadedData, to: str) -> tuple[list[dict], list[Problem]]:
    rows, problems = [], []
    for row in data.rows:
        extra = {"id": row.source["id"]} if "id" in row.source else {}
        if to == "messages":
            rows.append({**extra, "messages": list(row.messages)})
            continue
        try:
            rows.append({**extra, **messages_to_alpaca(list(row.messages))})
        except RowError as exc:
            problems.append(Problem(row.where, exc.what, exc.fix, exc.code, row.line))
    return rows, problems


def _write_atomically(out: Path, rows: list[dict]) -> None:
    """Write to a temporary file beside `out`, then rename: a failure never leaves a half-written file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            if out.suffix.lower() == ".json":
                json.dump(rows, fh, ensure_ascii=False, indent=1)
            else:
                fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cmd_convert(args: argparse.Namespace) -> int:
    out = Path(args.output)
    if out.suffix.lower() not in (".jsonl", ".json"):
        raise ConfigError(f"-o {out}: write .jsonl (one row per line) or .json (an array).")
    data = _load(args, strict=True)  # DataError (→ exit 2, nothing written) at the first bad row
    rows, problems = _converted_rows(data, args.to)
    if problems:
        raise DataError(
            problems, f"{data.name}: {len(problems)} rows cannot be written as {args.to}; nothing was written:"
        )
    _write_atomically(out, rows)
    print(f"Wrote {len(rows)} rows ({data.format} → {args.to}) to {out}")
    return USABLE


def cmd_lengths(args: argparse.Namespace) -> int:
    data = _load(args, strict=not args.lenient)
    _print_lengths(args, data)
    return USABLE


def cmd_mask(args: argparse.Namespace) -> int:
    from ft_jupyter.data.masking import masking_view

    data = _load(args, strict=not args.lenient)
    if not 0 <= args.row < len(data.rows):
        raise ConfigError(f"--row {args.row} is out of range; the data has {len(data.rows)} usable rows (0-based).")
    tokenizer, template = _tokenizer(args)
    row = data.rows[args.row]
    print(f"{row.where} with {args.model}'s training chat template:\n")
    view = masking_view(tokenizer, row.messages, template=template, max_length=args.max_seq_len)
    print(view.to_text(color=sys.stdout.isatty()))
    return USABLE if view.loss_tokens else NOT_USABLE


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="check, convert and inspect training data")
    commands = data.add_subparsers(dest="data_command", required=True)

    p = commands.add_parser("check", help="format, rows, located problems and the cleaning report (exit 2: unusable)")
    _add_source_options(p)
    p.add_argument("--lenient", action="store_true", help="usable if any row is (bad rows would be skipped)")
    p.add_argument("--limit", type=int, default=50, help="problems listed at most (default 50)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _add_model_options(p, "also print token-length statistics with this model's tokenizer")
    p.add_argument("--max-seq-len", type=int, help="with --model: how many rows this length would truncate")
    p.set_defaults(func=cmd_check)

    p = commands.add_parser("convert", help="convert to messages or Alpaca JSONL; writes only valid input")
    _add_source_options(p)
    p.add_argument("--to", required=True, choices=("messages", "alpaca"))
    p.add_argument("-o", "--output", required=True, help="output file (.jsonl or .json)")
    p.set_defaults(func=cmd_convert)

    p = commands.add_parser("lengths", help="token-length statistics and a recommended max_seq_len")
    _add_source_options(p)
    _add_model_options(p, "whose tokenizer counts the tokens", default="smollm2-135m-instruct")
    p.add_argument("--max-seq-len", type=int, help="how many rows this length would truncate")
    p.add_argument("--lenient", action="store_true", help="skip bad rows instead of stopping")
    p.set_defaults(func=cmd_lengths)

    p = commands.add_parser("mask", help="which tokens of a row carry loss (catches 'all labels are -100')")
    _add_source_options(p)
    p.add_argument("--row", type=int, default=0, help="usable row index, 0-based (default 0)")
    _add_model_options(p, "whose tokenizer and chat template", default="smollm2-135m-instruct")
    p.add_argument("--max-seq-len", type=int, help="show what truncation at this length cuts off")
    p.add_argument("--lenient", action="store_true", help="skip bad rows instead of stopping")
    p.set_defaults(func=cmd_mask)
