"""jupyter_server extension: thin authenticated REST handlers under ``<base_url>/ft-jupyter/``.

Imported only by jupyter_server (``ft_jupyter._jupyter_server_extension_points``), never by ``import ft_jupyter``.
Settings (``jupyter_server_config.py`` or the command line)::

    c.FtJupyter.runs_dir = "runs"        # the folder whose runs the sidebar lists; relative to the server's root
    c.FtJupyter.instructors = ["ada"]    # users who may stop any run under a class's shared runs root
"""

from __future__ import annotations

from pathlib import Path

from traitlets import List, Unicode
from traitlets.config import Configurable

from ft_jupyter.server.base import INSTRUCTORS, RUNS_ROOT, SERVER_ROOT
from ft_jupyter.server.handlers import route_handlers


class FtJupyter(Configurable):
    """Server-side settings of the ft-jupyter sidebar."""

    runs_dir = Unicode(
        "runs",
        config=True,
        help="Folder holding one sub-folder per training run, listed by the sidebar; a relative path is taken "
        "under the server's root_dir. Run ids from the browser are confined to it.",
    )
    instructors = List(
        Unicode(),
        default_value=[],
        config=True,
        help="User names (JupyterHub users, else OS users) who may stop or export any run under the runs root; "
        "everyone else may change only the runs they started, and may read all of them.",
    )


def runs_root(serverapp) -> Path:
    root = Path(serverapp.root_dir).expanduser().resolve()
    return (root / Path(FtJupyter(config=serverapp.config).runs_dir).expanduser()).resolve()


def _load_jupyter_server_extension(serverapp) -> None:
    web_app = serverapp.web_app
    base_url = web_app.settings["base_url"]
    web_app.settings[SERVER_ROOT] = Path(serverapp.root_dir).expanduser().resolve()
    web_app.settings[RUNS_ROOT] = runs_root(serverapp)
    web_app.settings[INSTRUCTORS] = tuple(FtJupyter(config=serverapp.config).instructors)
    web_app.add_handlers(".*$", route_handlers(base_url))
    serverapp.log.info(
        "ft-jupyter server extension loaded at %sft-jupyter/; runs from %s", base_url, web_app.settings[RUNS_ROOT]
    )
