"""The run directory: the contract between the kernel, the server extension and the sidebar.

runs/<run-id>/
  config.yaml      the RunConfig, exactly
  events.jsonl     one event per line, appended by the training process only
  status.json      {"state": queued|running|stopped|finished|failed, "message": ..., ...}
  STOP             written by anyone who wants the run to stop; the trainer stops at the next step
  checkpoints/     resumable trainer checkpoints
  adapter/ | model/   the result
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ft_jupyter.config import ConfigError, RunConfig

STATES = ("queued", "running", "stopped", "finished", "failed")


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    tmp.replace(path)


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def events_path(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def stop_path(self) -> Path:
        return self.path / "STOP"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    def config(self) -> RunConfig:
        return RunConfig.load(self.path / "config.yaml")

    def status(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / "status.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"state": "unknown", "message": "status.json is missing"}

    def set_status(self, state: str, message: str = "", **extra: Any) -> None:
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}, got {state!r}")
        data = {**self.status(), **extra, "state": state, "message": message, "updated": time.time()}
        _write_json_atomic(self.path / "status.json", data)

    def append_event(self, event: dict[str, Any]) -> None:
        # One write call per line, so a reader never sees half a line from this process.
        with open(self.events_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(event, allow_nan=True) + "\n")

    def read_events(self, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Complete event lines from byte `offset`; returns them and the offset to read from next time."""
        try:
            with open(self.events_path, "rb") as fh:
                fh.seek(offset)
                chunk = fh.read()
        except FileNotFoundError:
            return [], offset
        end = chunk.rfind(b"\n") + 1  # a partially written last line waits for the next read
        events = [json.loads(line) for line in chunk[:end].splitlines() if line.strip()]
        return events, offset + end

    def request_stop(self, reason: str = "stop requested") -> None:
        self.stop_path.write_text(reason, encoding="utf-8")

    def stop_requested(self) -> bool:
        return self.stop_path.exists()

    def artifact_path(self) -> Path | None:
        for name in ("adapter", "model"):
            if (self.path / name).is_dir():
                return self.path / name
        return None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:40] or "run"


class RunStore:
    """All runs under one root folder."""

    def __init__(self, root: str | Path = "runs"):
        self.root = Path(root)

    def create(self, config: RunConfig) -> RunDir:
        self.root.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{_slug(config.name)}"
        for n in range(1000):
            path = self.root / (base if n == 0 else f"{base}-{n}")
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        else:
            raise RuntimeError(f"could not create a unique run folder under {self.root}")
        run = RunDir(path)
        config.save(path / "config.yaml")
        run.set_status("queued", "created")
        return run

    def list_runs(self) -> list[RunDir]:
        if not self.root.is_dir():
            return []
        runs = [RunDir(p) for p in self.root.iterdir() if (p / "config.yaml").is_file()]
        return sorted(runs, key=lambda r: r.run_id, reverse=True)

    def get(self, run_id: str) -> RunDir:
        path = (self.root / run_id).resolve()
        if path.parent != self.root.resolve() or not (path / "config.yaml").is_file():
            known = ", ".join(r.run_id for r in self.list_runs()[:5]) or "none yet"
            raise ConfigError(f"No run {run_id!r} under {self.root}; recent runs: {known}.")
        return RunDir(path)
