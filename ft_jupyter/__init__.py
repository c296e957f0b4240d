"""ft-jupyter: fine-tune open-weight LLMs with LoRA/QLoRA from Jupyter, and learn why each step matters.

Importing this package is cheap: torch, transformers and the UI libraries load only when a feature needs them.
"""

from __future__ import annotations

__version__ = "0.1.0"

# The environment doctor: its module imports only the standard library; torch loads when doctor() runs.
from ft_jupyter.checkup import doctor  # noqa: E402
from ft_jupyter.config import (  # noqa: E402  (config is torch-free by design)
    ConfigError,
    DataConfig,
    MethodConfig,
    ModelConfig,
    QuantizationConfig,
    RunConfig,
    TrainingConfig,
)
from ft_jupyter.noise import silence_known_noise  # noqa: E402

silence_known_noise()

__all__ = [
    "__version__",
    "ConfigError",
    "DataConfig",
    "MethodConfig",
    "ModelConfig",
    "QuantizationConfig",
    "RunConfig",
    "TrainingConfig",
    "doctor",
]


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "ft-jupyter"}]


def _jupyter_server_extension_points():
    return [{"module": "ft_jupyter.server"}]
