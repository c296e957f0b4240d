"""jupyter_server extension: thin authenticated REST handlers under ``<base_url>/ft-jupyter/``.

Imported only by jupyter_server (``ft_jupyter._jupyter_server_extension_points``), never by ``import ft_jupyter``.
"""

from __future__ import annotations

from ft_jupyter.server.handlers import route_handlers


def _load_jupyter_server_extension(serverapp) -> None:
    web_app = serverapp.web_app
    base_url = web_app.settings["base_url"]
    web_app.add_handlers(".*$", route_handlers(base_url))
    serverapp.log.info("ft-jupyter server extension loaded at %sft-jupyter/", base_url)
