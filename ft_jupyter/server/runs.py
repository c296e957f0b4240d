"""Runs under the runs root, read through the run store: list, detail, events from an offset, and stop.

The server never talks to a kernel: it reads run folders, and "stop" writes the STOP flag that the trainer's
callback turns into a graceful stop (adapter saved) at the next step.

On a class's shared root everyone may read every run; only a run's owner and the configured instructors may change
one (stop, export): anyone else gets 403 and nothing is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tornado.web
import yaml

from ft_jupyter.config import ConfigError
from ft_jupyter.server.base import FtHandler, encode
from ft_jupyter.server.paths import PathRefused, RunNotFound, browser_path, listed_runs, run_folder
from ft_jupyter.server.traces import RunCache
from ft_jupyter.train.store import LIVE_STATES, UNKNOWN_STATE, RunDir

# config.yaml never changes after a run starts, so its summary is read once per (path, mtime).
_SUMMARIES: dict[tuple[Path, float], dict[str, Any]] = {}
# Events and status read once for every poller (see ft_jupyter.server.traces).
CACHE = RunCache()
# An events page holds at most this many bytes of complete lines; `more` says whether the file goes on.
EVENTS_PAGE_BYTES = 64 * 1024


def _config_summary(run: RunDir) -> dict[str, Any]:
    path = run.path / "config.yaml"
    key = (path, path.stat().st_mtime)
    if key not in _SUMMARIES:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            summary = {
                "name": data.get("name"),
                "model": (data.get("model") or {}).get("name"),
                "method": (data.get("method") or {}).get("method"),
                "max_steps": (data.get("training") or {}).get("max_steps"),
            }
        except (yaml.YAMLError, AttributeError, OSError) as error:
            summary = {"config_error": f"config.yaml could not be read: {error}"}
        _SUMMARIES[key] = summary
    return _SUMMARIES[key]


def run_summary(run: RunDir, server_root: Path, runs_root: Path, user: str | None = None) -> dict[str, Any]:
    """What the sidebar's run list shows: state, owner (`mine`: whether `user` started it), progress and a thinned
    loss series from the events (`trace`), the result folder and the export."""
    summary, _ = CACHE.summary(run, lambda: _summary(run, server_root))
    return {**summary, "mine": summary["owner"] == user}


def _listed(run: RunDir, server_root: Path, user: str) -> tuple[bool, str]:
    """(mine, the run's summary as JSON text) for the list: encoded once while the run is unchanged."""
    summary, text = CACHE.summary(run, lambda: _summary(run, server_root))
    mine = summary["owner"] == user
    return mine, f'{text[:-1]}, "mine": {"true" if mine else "false"}}}'


def _summary(run: RunDir, server_root: Path) -> dict[str, Any]:
    status = CACHE.status(run)
    artifact = run.artifact_path()
    return {
        "id": run.run_id,
        **_config_summary(run),
        "owner": run.owner(status),
        "state": status.get("state", UNKNOWN_STATE),
        "message": status.get("message", ""),
        "updated": status.get("updated"),
        "stale": bool(status.get("stale")),
        "stop_requested": run.stop_requested(),
        "artifact": artifact.relative_to(run.path).as_posix() if artifact else None,
        "browser_path": browser_path(server_root, run.path),
        "export": _export_summary(run, server_root),
        "trace": CACHE.trace(run),
    }


def _export_summary(run: RunDir, server_root: Path) -> dict[str, Any] | None:
    """The export's state and, once written, where its report is (for the sidebar's Report button)."""
    from ft_jupyter.export.folder import export_status

    status = export_status(run.path)
    if status is None:
        return None
    report = run.path / "export" / "REPORT.md"
    return {
        "state": status.get("state"),
        "message": status.get("message", ""),
        "report": browser_path(server_root, report) if report.is_file() else None,
    }


class RunsMixin(FtHandler):
    def run(self, run_id: str) -> RunDir:
        try:
            return run_folder(self.runs_root, run_id)
        except PathRefused as error:
            raise tornado.web.HTTPError(400, str(error)) from error
        except RunNotFound as error:
            raise tornado.web.HTTPError(404, str(error)) from error

    def writable_run(self, run_id: str) -> RunDir:
        """The run, if the requester may change it (its owner or an instructor); 403 otherwise, before any write."""
        run = self.run(run_id)
        refusal = run.write_refusal(self.requester, self.instructors)
        if refusal:
            raise tornado.web.HTTPError(403, f"{self.requester}: {refusal}")
        return run


SCOPES = ("mine", "class")


class RunsHandler(RunsMixin):
    @tornado.web.authenticated
    def get(self) -> None:
        scope = self.get_query_argument("scope", "mine")
        if scope not in SCOPES:
            raise tornado.web.HTTPError(
                400, f"scope={scope!r}: use scope=mine (your runs) or scope=class (everyone's)."
            )
        user = self.requester
        everyone = [_listed(run, self.server_root, user) for run in listed_runs(self.runs_root)]
        runs = [text for mine, text in everyone if mine or scope == "class"]
        head = encode(
            {
                "root": str(self.runs_root),
                "browser_root": browser_path(self.server_root, self.runs_root),
                "user": user,
                "instructor": user in self.instructors,
                "scope": scope,
                "counts": {"mine": sum(mine for mine, _ in everyone), "class": len(everyone)},
            }
        )
        self.reply_text(f'{head[:-1]}, "runs": [{", ".join(runs)}]}}')


class RunHandler(RunsMixin):
    @tornado.web.authenticated
    def get(self, run_id: str) -> None:
        run = self.run(run_id)
        try:
            config = run.config().to_dict()
        except ConfigError as error:
            raise tornado.web.HTTPError(400, f"Run {run_id!r}: {error}") from error
        checkpoints = [path.name for path in run.checkpoints()]
        self.reply(
            {
                **run_summary(run, self.server_root, self.runs_root, self.requester),
                "config": config,
                "status": run.status(),
                "checkpoints": checkpoints,
            }
        )


class EventsHandler(RunsMixin):
    @tornado.web.authenticated
    def get(self, run_id: str) -> None:
        run = self.run(run_id)
        since = self._offset()
        try:
            events, next_offset, more = run.read_event_page(since, max_bytes=EVENTS_PAGE_BYTES)
        except ValueError as error:  # an offset in the middle of a line, or a line cut by a crash
            raise tornado.web.HTTPError(
                400,
                f"events.jsonl of run {run_id!r} from byte {since} is not a sequence of event lines ({error}); "
                "start at 0 and then pass the `next` offset of each reply.",
            ) from error
        self.reply(
            {
                "events": events,
                "next": next_offset,
                "more": more,
                "state": CACHE.status(run).get("state", UNKNOWN_STATE),
            }
        )

    def _offset(self) -> int:
        text = self.get_query_argument("since", "0")
        if not text.isdigit():
            raise tornado.web.HTTPError(
                400, f"since={text!r} is not a byte offset; give 0 or the `next` value of the previous reply."
            )
        return int(text)


class StopHandler(RunsMixin):
    @tornado.web.authenticated
    def post(self, run_id: str) -> None:
        run = self.writable_run(run_id)
        state = run.status().get("state")
        if state not in LIVE_STATES:
            raise tornado.web.HTTPError(409, f"Run {run_id!r} is {state}; only a queued or running run can stop.")
        run.request_stop(f"stopped from the JupyterLab sidebar by {self.requester}")
        self.reply({"id": run.run_id, "state": state, "stop_requested": True}, status=202)
