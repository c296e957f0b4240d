"""The one switch between live widgets, a static figure and console text.

- widgets: inside a Jupyter kernel with ipywidgets, plotly and anywidget installed (JupyterLab, Notebook 7,
  VS Code; Colab after its custom widget manager is enabled, which `display_mode` does).
- static: inside a kernel whose front-end cannot show widgets (set FT_JUPYTER_UI=static, e.g. for nbconvert or a
  viewer), or when the widget libraries are missing: text progress while training, one static figure at the end.
- console: a plain Python process or IPython terminal: text progress with ETA.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from ft_jupyter.config import ConfigError
from ft_jupyter.install import install_line

MODES = ("widgets", "static", "console")
ENV_VAR = "FT_JUPYTER_UI"
_WIDGET_PACKAGES = ("ipywidgets", "plotly", "anywidget")


def _install_hint() -> str:
    return "; ".join(install_line(name) for name in missing_widget_packages())


def in_kernel() -> bool:
    """True inside a Jupyter kernel (not a terminal IPython, not plain Python)."""
    if "ipykernel" not in sys.modules or "IPython" not in sys.modules:
        return False
    from ipykernel.zmqshell import ZMQInteractiveShell
    from IPython import get_ipython

    return isinstance(get_ipython(), ZMQInteractiveShell)


def missing_widget_packages() -> list[str]:
    return [name for name in _WIDGET_PACKAGES if importlib.util.find_spec(name) is None]


def display_mode(requested: str | None = None) -> str:
    """Decide how progress is shown: the argument, else $FT_JUPYTER_UI, else what the environment supports."""
    mode = requested or os.environ.get(ENV_VAR, "").strip() or "auto"
    if mode not in (*MODES, "auto"):
        raise ConfigError(
            f"display = {mode!r} is not allowed; use one of auto, {', '.join(MODES)} (argument or ${ENV_VAR})."
        )
    if mode == "widgets" and missing_widget_packages():
        raise ConfigError(f"Widgets need {', '.join(missing_widget_packages())}: {_install_hint()}")
    if mode != "auto":
        return mode
    if not in_kernel():
        return "console"
    missing = missing_widget_packages()
    if missing:
        print(
            f"ft-jupyter: live charts need {', '.join(missing)} ({_install_hint()}); showing text progress and a "
            "static figure instead.",
            file=sys.stderr,
        )
        return "static"
    _enable_colab_widgets()
    return "widgets"


def _enable_colab_widgets() -> None:
    # Colab renders only its built-in widgets until the custom widget manager is switched on; plotly's
    # FigureWidget is a custom (anywidget) widget.
    if "google.colab" in sys.modules:
        from google.colab import output

        output.enable_custom_widget_manager()
