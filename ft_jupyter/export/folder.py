"""Where exports go, written so that a reader never finds half of one.

runs/<run-id>/export/
  merged-<dtype>/        a plain Hugging Face folder (weights, tokenizer, chat template, generation config)
  merged-<dtype>.json    the merge verification report
  gguf/                  model-<type>.gguf, adapter-f16.gguf
  ollama/Modelfile
  quantized.json         accuracy of each smaller copy on the run's test split
  serving.json           batched throughput and latency
  report.json, REPORT.md the whole export, for machines and for people
  status.json            running / finished / failed, with the exporting process's pid (the sidebar reads it)

Every artefact is built in a hidden staging path beside its target and renamed into place when complete; a failure
removes the staging path, so an interrupted export leaves the previous complete artefact (or nothing).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ft_jupyter.train.store import EXPORT_DIR

EXPORT_STATES = ("running", "finished", "failed")


def export_dir(run_path: Path) -> Path:
    folder = Path(run_path) / EXPORT_DIR
    folder.mkdir(exist_ok=True)
    return folder


@contextmanager
def staged(target: Path) -> Iterator[Path]:
    """A staging path to build `target` in (a file or a folder); it replaces `target` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    _remove(tmp)
    try:
        yield tmp
        if not tmp.exists():
            raise RuntimeError(f"nothing was written to {tmp}")
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        if target.exists():
            target.rename(old)  # a folder cannot be replaced in one rename; keep the old one until the new is in place
        tmp.rename(target)
        _remove(old)
    finally:
        _remove(tmp)


def write_json(path: Path, data: dict[str, Any]) -> Path:
    with staged(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    return path


def read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def folder_bytes(path: Path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def set_export_status(run_path: Path, state: str, message: str = "", **extra: Any) -> None:
    import socket
    import time

    if state not in EXPORT_STATES:
        raise ValueError(f"export state must be one of {EXPORT_STATES}, got {state!r}")
    # The request stays recorded across the progress messages of one export, unless this call gives one.
    old = read_json(export_dir(run_path) / "status.json") or {}
    data = {
        **({"request": old["request"]} if "request" in old else {}),
        "pid": os.getpid(),
        **extra,
        "state": state,
        "message": message,
        "updated": time.time(),
        "host": socket.gethostname(),
    }
    write_json(export_dir(run_path) / "status.json", data)


def export_status(run_path: Path) -> dict[str, Any] | None:
    """The export's status, None when the run was never exported; a "running" export whose process is gone reads as
    failed (it was killed)."""
    from ft_jupyter.train.store import process_alive

    data = read_json(Path(run_path) / EXPORT_DIR / "status.json")
    if data and data.get("state") == "running" and not process_alive(data.get("pid"), data.get("host")):
        data = {
            **data,
            "state": "failed",
            "message": "the export process ended without reporting (killed?); start the export again.",
        }
    return data
