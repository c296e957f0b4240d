"""Export from the sidebar: start `ft-jupyter export` for a finished run in its own process, and report its state.

The server never exports in its own process (a merge loads the model: seconds to minutes, and memory); it starts the
CLI, which writes runs/<id>/export/status.json and export.log, and the run list reads them back.
"""

from __future__ import annotations

import tornado.web

from ft_jupyter.config import ConfigError
from ft_jupyter.server.runs import RunsMixin


class ExportHandler(RunsMixin):
    @tornado.web.authenticated
    def get(self, run_id: str) -> None:
        from ft_jupyter.export.folder import export_status, read_json

        run = self.run(run_id)
        folder = run.path / "export"
        self.reply({"id": run.run_id, "status": export_status(run.path), "report": read_json(folder / "report.json")})

    @tornado.web.authenticated
    def post(self, run_id: str) -> None:
        from ft_jupyter.export.run import ExportConflict, ExportRequest, start_export

        run = self.writable_run(run_id)
        try:
            request = ExportRequest.from_json(self.json_body())
        except ConfigError as error:
            raise tornado.web.HTTPError(400, str(error)) from error
        try:
            pid = start_export(run, request)
        except ExportConflict as error:
            raise tornado.web.HTTPError(409, str(error)) from error
        self.reply({"id": run.run_id, "pid": pid, "request": request.to_json(), "state": "running"}, status=202)
