"""What every ft-jupyter handler shares: JSON bodies read with a clear 400, and the server's configured folders."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler

# Keys under which `_load_jupyter_server_extension` stores the resolved folders in the tornado settings.
RUNS_ROOT = "ft_jupyter_runs_root"
SERVER_ROOT = "ft_jupyter_server_root"
INSTRUCTORS = "ft_jupyter_instructors"


class FtHandler(APIHandler):
    """JSON in, JSON out. Raise `tornado.web.HTTPError(code, message)`; the reply is `{"message": ...}`."""

    @property
    def runs_root(self) -> Path:
        return self.settings[RUNS_ROOT]

    @property
    def server_root(self) -> Path:
        return self.settings[SERVER_ROOT]

    @property
    def instructors(self) -> tuple[str, ...]:
        return self.settings.get(INSTRUCTORS, ())

    @property
    def requester(self) -> str:
        """Who sent this request: the hub user who is signed in (an admin may open a participant's server), else the
        OS user this single-user server runs as."""
        from ft_jupyter.train.store import current_user

        if os.environ.get("JUPYTERHUB_USER"):
            name = getattr(self.current_user, "username", None) or getattr(self.current_user, "name", None)
            if isinstance(name, str) and name:
                return name
        return current_user()

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object, or a 400 that says what was sent instead."""
        try:
            payload = json.loads(self.request.body or b"")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise tornado.web.HTTPError(400, f"Request body is not valid JSON: {error}") from error
        if not isinstance(payload, dict):
            raise tornado.web.HTTPError(400, f"Request body must be a JSON object, got {type(payload).__name__}.")
        return payload

    def reply(self, data: Any, status: int = 200) -> None:
        self.reply_text(encode(data), status)

    def reply_text(self, body: str, status: int = 200) -> None:
        """A reply already encoded as JSON text (by `encode`)."""
        self.set_status(status)
        self.finish(body)


def encode(data: Any) -> str:
    """JSON text with NaN and infinities as null (JSON.parse rejects NaN; a diverged run logs one)."""
    try:
        return json.dumps(data, allow_nan=False)
    except ValueError:
        return json.dumps(finite(data), allow_nan=False)


def finite(data: Any) -> Any:
    """`data` with NaN and infinities as None."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: finite(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite(value) for value in data]
    return data
