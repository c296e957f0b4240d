"""The class leaderboard for the sidebar: finished runs under the runs root, ranked within groups scored on the same
rows (see ft_jupyter.workshop.leaderboard). Each entry carries the notebook cell that draws its curves."""

from __future__ import annotations

import tornado.web

from ft_jupyter.config import ConfigError
from ft_jupyter.server.base import FtHandler
from ft_jupyter.server.paths import browser_path


def open_run_cell(path: str) -> str:
    """The code cell that draws a run's dashboard (the path built with repr, never pasted)."""
    return f"from ft_jupyter import ui\n\nui.open_run({path!r})"


class LeaderboardHandler(FtHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        from ft_jupyter.workshop.leaderboard import leaderboard

        task = self.get_query_argument("task", None) or None
        if not self.runs_root.is_dir():
            self.reply({"root": str(self.runs_root), "groups": [], "left_out": []})
            return
        try:
            board = leaderboard(self.runs_root, task=task).to_json()
        except ConfigError as error:
            raise tornado.web.HTTPError(400, str(error)) from error
        for group in board["groups"]:
            for entry in group["entries"]:
                path = self.runs_root / entry["run_id"]
                entry.update(
                    code=open_run_cell(str(path)),
                    browser_path=browser_path(self.server_root, path),
                    mine=entry["owner"] == self.requester,
                )
        self.reply(board)
