"""The run directory: the contract between the kernel, the server extension and the sidebar.

runs/<run-id>/
  config.yaml      the RunConfig, exactly
  events.jsonl     one event per line, appended by the training process only
  status.json      {"state": one of STATES below, "message": ..., "owner": ..., ...}
  STOP             written by anyone who wants the run to stop; the trainer stops at the next step
  checkpoints/     resumable trainer checkpoints (checkpoint-<step>/)
  adapter/ | model/   the result

Every run records its owner (the JupyterHub user, else the OS user) when it is created. In a class's shared root (a
folder with the set-group-id bit, as `ft-jupyter workshop init` makes it) run folders are group-writable, so an
instructor can leave a STOP flag in any participant's run; the server decides who may (see ft_jupyter.server.runs).

A run whose process died without a word (kernel restart, kill -9) still says "running" on disk; `status()` notices
that the recorded pid is gone and reports the run as stopped, with how to resume it.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import socket
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ft_jupyter.config import ConfigError, RunConfig

# A run's states, as status.json holds them: the one definition every reader uses (the sidebar's copy,
# labextension/src/runstates.ts, is generated from these by ft_jupyter.server.runstates).
STATES = ("queued", "running", "stopped", "finished", "failed")
EXPORT_DIR = "export"  # the run folder's export sub-folder
LIVE_STATES = ("queued", "running")  # the run may still change: it can be stopped, not yet exported or ranked
END_STATES = ("finished", "stopped", "failed")  # also the types of the event that ends a run (train.events)
SAVED_END_STATES = ("finished", "stopped")  # ended with its result saved and its cost known
UNKNOWN_STATE = "unknown"  # what status() says of a run folder without status.json
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


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

    @property
    def export_path(self) -> Path:
        """Where `ft_jupyter.export` writes this run's merged model, GGUF files and reports (may not exist yet)."""
        return self.path / EXPORT_DIR

    def config(self) -> RunConfig:
        return RunConfig.load(self.path / "config.yaml")

    def _read_status(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / "status.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"state": UNKNOWN_STATE, "message": "status.json is missing"}

    def status(self) -> dict[str, Any]:
        """status.json, except that a "running" run whose process is gone reads as stopped (with `stale: true`)."""
        return self.checked_status(self._read_status())

    def checked_status(self, data: dict[str, Any]) -> dict[str, Any]:
        """`data` (as read from status.json) with a dead process's "running" turned into a stale "stopped"."""
        if data.get("state") == "running" and not process_alive(data.get("pid"), data.get("host")):
            last = self.last_checkpoint()
            how = (
                f"`ft-jupyter resume {self.run_id}` continues from {last.name}"
                if last is not None
                else "no checkpoint was saved (set training.save_steps to make runs resumable)"
            )
            data = {
                **data,
                "state": "stopped",
                "stale": True,
                "message": f"the training process (pid {data.get('pid')}) ended without reporting, e.g. a kernel "
                f"restart; {how}.",
            }
        return data

    def owner(self, status: dict[str, Any] | None = None) -> str:
        """Who started this run: status.json's owner, else (a run from before owners were recorded) the OS owner of
        its folder."""
        recorded = (status if status is not None else self._read_status()).get("owner")
        if isinstance(recorded, str) and recorded:
            return recorded
        try:
            return pwd.getpwuid(self.path.stat().st_uid).pw_name
        except (KeyError, OSError):
            return "unknown"

    def write_refusal(self, user: str, instructors: tuple[str, ...] | list[str] = ()) -> str | None:
        """Why `user` may not change this run (stop, resume, export), or None when they may: only its owner and the
        class's instructors may; everyone may read it."""
        owner = self.owner()
        if user == owner or user in instructors:
            return None
        return (
            f"run {self.run_id} belongs to {owner}; only its owner or an instructor may change it. You can still "
            "open it, compare it and copy its config to start a run of your own."
        )

    def set_status(self, state: str, message: str = "", **extra: Any) -> None:
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}, got {state!r}")
        data = {**self._read_status(), **extra, "state": state, "message": message, "updated": time.time()}
        if state == "running":
            # Lets readers tell a live run from one whose process died (see status()).
            data.update(pid=os.getpid(), host=socket.gethostname())
        _write_json_atomic(self.path / "status.json", data)

    def append_event(self, event: dict[str, Any]) -> None:
        # One write call per line, so a reader never sees half a line from this process.
        with open(self.events_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(event, allow_nan=True) + "\n")

    def read_events(self, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Complete event lines from byte `offset`; returns them and the offset to read from next time."""
        events, next_offset, _ = self.read_event_page(offset)
        return events, next_offset

    def read_event_page(self, offset: int = 0, max_bytes: int | None = None) -> tuple[list[dict[str, Any]], int, bool]:
        """Like `read_events`, but at most `max_bytes` of whole lines (one longer line is sent whole); the third
        value says whether the page was full, i.e. whether to ask again from the returned offset at once."""
        lines, end, full = self._complete_lines(offset, max_bytes)
        return [json.loads(line) for line in lines], end, full

    def read_intact_events(self, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Like `read_events`, but a line that does not parse (one a crash cut short, which the next run's first
        event then continues) is skipped instead of raising: for readers that show what they can, never for
        replaying a run."""
        lines, end, _ = self._complete_lines(offset, None)
        events = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError:  # JSONDecodeError, or bytes that are not UTF-8
                continue
        return events, end

    def _complete_lines(self, offset: int, max_bytes: int | None) -> tuple[list[bytes], int, bool]:
        """The non-blank whole lines from byte `offset` (at most `max_bytes` of them, but at least one), the offset
        after them, and whether `max_bytes` cut the read short."""
        try:
            with open(self.events_path, "rb") as fh:
                fh.seek(offset)
                chunk = fh.read() if max_bytes is None else fh.read(max_bytes)
                full = max_bytes is not None and len(chunk) == max_bytes
                if full and b"\n" not in chunk:
                    chunk += fh.readline()  # one line longer than the page: send it whole
        except FileNotFoundError:
            return [], offset, False
        end = chunk.rfind(b"\n") + 1  # a partially written last line waits for the next read
        return [line for line in chunk[:end].splitlines() if line.strip()], offset + end, full

    def request_stop(self, reason: str = "stop requested") -> None:
        self.stop_path.write_text(reason, encoding="utf-8")

    def stop_requested(self) -> bool:
        return self.stop_path.exists()

    def clear_stop(self) -> None:
        self.stop_path.unlink(missing_ok=True)

    def checkpoints(self) -> list[Path]:
        """Resumable checkpoints, oldest first (by step, not by name: checkpoint-10 comes after checkpoint-9)."""
        if not self.checkpoints_dir.is_dir():
            return []
        found = [
            (int(m.group(1)), p)
            for p in self.checkpoints_dir.iterdir()
            if p.is_dir() and (m := _CHECKPOINT_RE.match(p.name)) and (p / "trainer_state.json").is_file()
        ]
        return [p for _, p in sorted(found)]

    def last_checkpoint(self) -> Path | None:
        found = self.checkpoints()
        return found[-1] if found else None

    def artifact_path(self) -> Path | None:
        for name in ("adapter", "model"):
            if (self.path / name).is_dir():
                return self.path / name
        return None


def process_alive(pid: Any, host: Any) -> bool:
    if not isinstance(pid, int) or host != socket.gethostname():
        return True  # another machine's run (shared folder): we cannot tell, so trust the file
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def current_user() -> str:
    """Who is starting or asking: the JupyterHub user when this runs in a hub's single-user server, else the OS user
    of this process (from the password database, not from $USER, which anyone can set)."""
    hub_user = os.environ.get("JUPYTERHUB_USER", "").strip()
    if hub_user:
        return hub_user
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a container user without a passwd entry
        return f"uid-{os.geteuid()}"


def shared_root(root: Path) -> bool:
    """Whether `root` is a class's shared runs root: group-writable with the set-group-id bit (mode 2775)."""
    try:
        mode = root.stat().st_mode
    except OSError:
        return False
    return bool(mode & stat.S_ISGID and mode & stat.S_IWGRP)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:40] or "run"


class RunStore:
    """All runs under one root folder."""

    def __init__(self, root: str | Path = "runs"):
        self.root = Path(root)

    def create(self, config: RunConfig, run_id: str | None = None) -> RunDir:
        """A new run folder named <time>-<name> (or `run_id`, when a launcher fixed it for all processes)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if run_id is not None:
            if _slug(run_id) != run_id:
                raise ConfigError(f"run id {run_id!r} may only use letters, digits, '-' and '_'.")
            try:
                (self.root / run_id).mkdir()
            except FileExistsError:
                raise ConfigError(
                    f"A run {run_id!r} already exists under {self.root}; choose another id, or "
                    f"resume it with `ft-jupyter resume {run_id}`."
                ) from None
            return self._initialise(RunDir(self.root / run_id), config)
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
        return self._initialise(RunDir(path), config)

    def _initialise(self, run: RunDir, config: RunConfig) -> RunDir:
        if shared_root(self.root):
            # Group members (the instructors) may leave a STOP flag; the server refuses anyone else.
            os.chmod(run.path, 0o2775)
        config.save(run.path / "config.yaml")
        run.set_status("queued", "created", owner=current_user())
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
