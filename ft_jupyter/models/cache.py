"""Where the kit keeps the models it prepares (SmolLM2 converted, tiny-random built), and the error for a model name
that resolves to nothing loadable here: shared by the catalogue, which resolves names, and the builders it calls."""

from __future__ import annotations

import os
from pathlib import Path

from ft_jupyter.config import ConfigError


class ModelNotFoundError(ConfigError):
    """The model name resolves to nothing loadable here."""


def cache_home() -> Path:
    """Where converted and generated models live: $FT_JUPYTER_HOME, else ~/.cache/ft-jupyter."""
    root = os.environ.get("FT_JUPYTER_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "ft-jupyter")
    return Path(root)
