"""REST handlers of the Fine-tune sidebar. Errors reach the browser as JSON ``{"message": ...}``."""

from __future__ import annotations

import json
from pathlib import PurePosixPath, PureWindowsPath

import tornado.web
from jupyter_core.utils import ensure_async
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

import ft_jupyter
from ft_jupyter import lessons

# Where a lesson copied earlier may sit, relative to the server root.
LESSON_FOLDERS = ("", "notebooks")


class VersionHandler(APIHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        # The frontend bundle is built from the same release, so it expects the same version.
        self.finish(json.dumps({"version": ft_jupyter.__version__, "frontend_expected": ft_jupyter.__version__}))


class LessonsHandler(APIHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        reply = []
        for lesson in _packaged_lessons():
            reply.append({**lesson, "in_root": await self._copy_in_root(lesson["file"])})
        self.finish(json.dumps(reply))

    async def _copy_in_root(self, name: str) -> str | None:
        for folder in LESSON_FOLDERS:
            path = url_path_join(folder, name) if folder else name
            if await ensure_async(self.contents_manager.file_exists(path)):
                return path
        return None


class CopyLessonHandler(APIHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        name = _lesson_name(self.request.body)
        if name not in {lesson["file"] for lesson in _packaged_lessons()}:
            raise tornado.web.HTTPError(404, f"No lesson named {name!r}; GET /ft-jupyter/lessons lists them.")
        path = await self._free_name(name)
        text = (lessons.lessons_dir() / name).read_text(encoding="utf-8")
        model = {"type": "file", "format": "text", "content": text}
        await ensure_async(self.contents_manager.save(model, path))
        self.set_status(201)
        self.finish(json.dumps({"path": path}))

    async def _free_name(self, name: str) -> str:
        """``name``, or ``<stem>-copy<N><suffix>`` with the first N not taken in the server root."""
        stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix
        candidate, n = name, 0
        while await ensure_async(self.contents_manager.exists(candidate)):
            n += 1
            candidate = f"{stem}-copy{n}{suffix}"
        return candidate


def _packaged_lessons() -> list[dict]:
    try:
        return lessons.list_lessons()
    except (FileNotFoundError, ValueError) as error:
        raise tornado.web.HTTPError(500, str(error)) from error


def _lesson_name(body: bytes) -> str:
    """The ``file`` of a JSON body, validated as a bare file name (400 otherwise)."""
    try:
        payload = json.loads(body or b"")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise tornado.web.HTTPError(400, f"Request body is not valid JSON: {error}") from error
    name = payload.get("file") if isinstance(payload, dict) else None
    if not isinstance(name, str) or not name:
        raise tornado.web.HTTPError(400, 'Expected a JSON object like {"file": "00_quickstart.ipynb"}.')
    if "/" in name or "\\" in name or ".." in name or PureWindowsPath(name).is_absolute() or ":" in name:
        raise tornado.web.HTTPError(400, f"{name!r} is not a lesson file name: give the bare name, no folders.")
    return name


def route_handlers(base_url: str) -> list[tuple[str, type[APIHandler]]]:
    from ft_jupyter.server.configure import (
        CatalogueHandler,
        EstimateHandler,
        RenderHandler,
        SchemaHandler,
    )
    from ft_jupyter.server.export import ExportHandler
    from ft_jupyter.server.leaderboard import LeaderboardHandler
    from ft_jupyter.server.runs import EventsHandler, RunHandler, RunsHandler, StopHandler

    def route(*parts: str) -> str:
        return url_path_join(base_url, "ft-jupyter", *parts)

    run_id = "([^/]+)"  # one path segment; ft_jupyter.server.paths refuses '..', links out and the like
    return [
        (route("version"), VersionHandler),
        (route("lessons"), LessonsHandler),
        (route("lessons", "copy"), CopyLessonHandler),
        (route("schema"), SchemaHandler),
        (route("catalogue"), CatalogueHandler),
        (route("estimate"), EstimateHandler),
        (route("render"), RenderHandler),
        (route("leaderboard"), LeaderboardHandler),
        (route("runs"), RunsHandler),
        (route("runs", run_id), RunHandler),
        (route("runs", run_id, "events"), EventsHandler),
        (route("runs", run_id, "stop"), StopHandler),
        (route("runs", run_id, "export"), ExportHandler),
    ]
