"""Read rows from what people actually have: JSONL, JSON, CSV and Parquet files, lists, pandas frames, HF datasets.

Every row keeps where it came from (`file:line`, or `row N` for in-memory data) so later checks can point at it.
Rows that cannot even be read (invalid JSON, non-UTF-8 bytes, a line that is not an object) become `Problem`s
instead of exceptions; `load.load_data` decides whether to stop at the first one or skip and report them.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ft_jupyter.data.bundled import BUNDLED, bundled_path
from ft_jupyter.data.problems import DataError, Problem

SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass(frozen=True)
class Record:
    where: str  # "emails.jsonl:12" or "row 12"
    data: dict[str, Any]
    line: int = 0  # the line (files) or row index (in-memory, Parquet), for ordering


@dataclass
class RecordSet:
    name: str  # what to call the source in messages: a file name or "in-memory rows"
    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Rows seen, including the ones that could not be read."""
        return len(self.records) + len(self.problems)


def describe_source(source: Any) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    return f"in-memory {type(source).__name__}"


def read_records(source: Any, columns: dict[str, str] | None = None) -> RecordSet:
    """Rows of `source` (bundled name, file path, list of dicts, pandas DataFrame or datasets.Dataset).

    `columns` renames source columns to the names the formats expect, e.g. {"body": "text", "category": "label"}.
    Raises DataError only when the source as a whole is unusable (missing file, unknown suffix, mapped column absent).
    """
    if isinstance(source, (str, Path)):
        result = _read_path(_resolve_path(source))
    elif isinstance(source, list):
        result = _read_list(source)
    elif type(source).__name__ == "DataFrame" and hasattr(source, "to_dict"):
        result = _read_list([_plain(r) for r in source.to_dict("records")], "DataFrame")
    elif type(source).__name__ == "Dataset" and hasattr(source, "to_list"):
        result = _read_list(source.to_list(), "Dataset")
    else:
        raise DataError(
            [],
            f"Cannot read data from a {type(source).__name__}; give a file path, a bundled dataset "
            f"name ({', '.join(BUNDLED)}), a list of dicts, a pandas DataFrame or a datasets.Dataset.",
        )
    if columns:
        _rename_columns(result, columns)
    return result


def _resolve_path(source: str | Path) -> Path:
    if str(source) in BUNDLED:
        return bundled_path(str(source))
    path = Path(source).expanduser()
    if not path.is_file():
        raise DataError(
            [],
            f"Data file {str(path)!r} does not exist. Give a JSONL, JSON, CSV or Parquet file path, "
            f"or one of the bundled datasets: {', '.join(BUNDLED)}.",
        )
    return path


def _read_path(path: Path) -> RecordSet:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataError(
            [],
            f"{path}: unknown file type {path.suffix or '(no suffix)'!r}; use .jsonl, .json, .csv or "
            ".parquet (rename the file if its content is one of those).",
        )
    if kind == "parquet":
        return _read_parquet(path)
    raw = path.read_bytes()
    if kind == "jsonl":
        return _read_jsonl(path, raw)
    text = _decode_whole(path, raw)
    return _read_json(path, text) if kind == "json" else _read_csv(path, text)


def _utf8_problem(where: str, exc: UnicodeDecodeError, offset_in_line: int, line: int) -> Problem:
    bad = exc.object[exc.start : exc.start + 1].hex().upper()
    return Problem(
        where,
        f"is not valid UTF-8 (byte 0x{bad} at column {offset_in_line + 1}).",
        "Re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8 in > out`, or 'Save as UTF-8').",
        "not-utf8",
        line,
    )


def _decode_whole(path: Path, raw: bytes) -> str:
    """Whole-file decode for JSON/CSV, whose rows span lines: a bad byte is reported at its line and stops."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1)
        raise DataError([_utf8_problem(f"{path.name}:{line}", exc, column, line)]) from None


def _read_jsonl(path: Path, raw: bytes) -> RecordSet:
    out = RecordSet(str(path))
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a BOM some editors add; invisible to people, fatal to json.loads
    for lineno, line in enumerate(raw.split(b"\n"), 1):
        where = f"{path.name}:{lineno}"
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            out.problems.append(_utf8_problem(where, exc, exc.start, lineno))
            continue
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            out.problems.append(_json_problem(where, exc, lineno, jsonl=True))
            continue
        if not isinstance(row, dict):
            out.problems.append(
                Problem(
                    where,
                    f"is a JSON {_json_type(row)}, not an object.",
                    'Each line must be one object such as {"text": ..., "label": ...}.',
                    "wrong-type",
                    lineno,
                )
            )
            continue
        out.records.append(Record(where, row, lineno))
    return out


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _json_problem(where: str, exc: json.JSONDecodeError, line: int, jsonl: bool) -> Problem:
    hint = "Each line must be one complete JSON object; look for a missing quote, comma or brace."
    text = exc.doc.lstrip()
    if text.startswith(("{'", "['")):
        hint = "This looks like a Python dict (single quotes); write JSON with double quotes (json.dumps does)."
    elif (
        exc.msg.startswith("Unterminated string")
        or exc.msg.startswith("Expecting ',' delimiter")
        and exc.pos >= len(exc.doc.rstrip())
    ):
        hint = "The line ends mid-value: it looks cut off. Restore the rest of the row or delete the line."
    elif exc.msg.startswith("Expecting property name") and exc.doc[: exc.pos].rstrip().endswith(","):
        hint = "A trailing comma before '}' is not allowed in JSON: remove it."
    elif jsonl and exc.msg == "Extra data":
        hint = "Two JSON values on one line: put each object on its own line."
    return Problem(where, f"invalid JSON ({exc.msg} at column {exc.colno}).", hint, "invalid-json", line)


def _read_json(path: Path, text: str) -> RecordSet:
    """A JSON array of objects; each object is located at the line where it starts."""
    out = RecordSet(str(path))
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, 0)
    if pos >= len(text):
        return out
    if text[pos] != "[":
        try:
            value, _ = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise DataError([_json_problem(f"{path.name}:{exc.lineno}", exc, exc.lineno, jsonl=False)]) from None
        raise DataError([_top_level_problem(path, value)])
    pos = _skip_ws(text, pos + 1)
    line, counted = 1, 0  # counted incrementally: recounting from the start would be quadratic in the file size
    while pos < len(text) and text[pos] != "]":
        line, counted = line + text.count("\n", counted, pos), pos
        try:
            row, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            # Past a syntax error the array cannot be resynchronised, so the file as a whole is rejected.
            raise DataError([_json_problem(f"{path.name}:{exc.lineno}", exc, exc.lineno, jsonl=False)]) from None
        if isinstance(row, dict):
            out.records.append(Record(f"{path.name}:{line}", row, line))
        else:
            out.problems.append(
                Problem(
                    f"{path.name}:{line}",
                    f"is a JSON {_json_type(row)}, not an object.",
                    "Every element of the array must be an object (one row).",
                    "wrong-type",
                    line,
                )
            )
        pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
    return out


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _top_level_problem(path: Path, value: Any) -> Problem:
    fix = "The file must be a JSON array of row objects: [{...}, {...}]."
    if isinstance(value, dict):
        lists = [k for k, v in value.items() if isinstance(v, list)]
        if lists:
            fix += f" The rows seem to be under the key {lists[0]!r}: save that list on its own."
        elif len(value) > 0:
            fix += " If the file holds one object per line, name it .jsonl."
    return Problem(
        f"{path.name}:1", f"the top level is a JSON {_json_type(value)}, not an array of rows.", fix, "wrong-type", 1
    )


def _read_csv(path: Path, text: str) -> RecordSet:
    """CSV with a header row. csv.reader tracks physical lines, so rows with quoted newlines keep exact locations."""
    out = RecordSet(str(path))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return out
    header = [h.strip() for h in header]
    start = reader.line_num + 1
    for values in reader:
        line, where = start, f"{path.name}:{start}"
        start = reader.line_num + 1
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            out.problems.append(
                Problem(
                    where,
                    f"has {len(values)} fields but the header has {len(header)} ({', '.join(header)}).",
                    "Quote fields that contain commas or newlines.",
                    "wrong-field-count",
                    line,
                )
            )
            continue
        out.records.append(Record(where, dict(zip(header, values, strict=True)), line))
    return out


def _read_parquet(path: Path) -> RecordSet:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        from ft_jupyter.install import install_line

        raise DataError([], f"Reading Parquet needs pyarrow: {install_line('pyarrow')}") from None
    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DataError(
            [
                Problem(
                    path.name,
                    f"cannot be read as Parquet ({exc}).",
                    "Check that the file is a complete Parquet file.",
                    "invalid-parquet",
                )
            ]
        ) from None
    # Parquet has no lines; the row number (from 1) is what a dataframe viewer shows next to the row.
    return RecordSet(str(path), [Record(f"{path.name} row {i}", row, i) for i, row in enumerate(rows, 1)])


def _read_list(rows: list, kind: str = "list") -> RecordSet:
    out = RecordSet(f"in-memory {kind}")
    for i, row in enumerate(rows):
        where = f"row {i}"
        if isinstance(row, dict):
            out.records.append(Record(where, row, i))
        else:
            out.problems.append(
                Problem(
                    where,
                    f"is a {type(row).__name__}, not a dict.",
                    "Give one dict per row, e.g. {'text': ..., 'label': ...}.",
                    "wrong-type",
                    i,
                )
            )
    return out


def _plain(value: Any) -> Any:
    """pandas/numpy values → plain Python (arrays → lists, numpy scalars → numbers, NaN → None)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _plain(value.tolist())
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _rename_columns(result: RecordSet, columns: dict[str, str]) -> None:
    present = set().union(*(r.data.keys() for r in result.records)) if result.records else set()
    missing = [src for src in columns if src not in present]
    if missing and result.records:
        raise DataError(
            [],
            f"{Path(result.name).name}: data.columns maps {', '.join(map(repr, missing))}, but no row "
            f"has such a column (columns found: {', '.join(sorted(present))}). Fix the mapping.",
        )
    renamed = []
    for record in result.records:
        # Mapped columns win over an unmapped column that already has the target name.
        row = {k: v for k, v in record.data.items() if k not in columns}
        row.update({columns[k]: v for k, v in record.data.items() if k in columns})
        renamed.append(Record(record.where, row, record.line))
    result.records = renamed
