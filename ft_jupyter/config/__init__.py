"""The one config model: frozen dataclasses per concern, aggregated in RunConfig. Imports no torch."""

from ft_jupyter.config.presets import PRESETS, preset
from ft_jupyter.config.run import SECTIONS, RunConfig, field_help
from ft_jupyter.config.schema import ConfigError
from ft_jupyter.config.sections import (
    DEFAULT_MODEL,
    TARGET_PRESETS,
    DataConfig,
    MethodConfig,
    ModelConfig,
    QuantizationConfig,
    TrainingConfig,
)

__all__ = [
    "DEFAULT_MODEL",
    "PRESETS",
    "SECTIONS",
    "TARGET_PRESETS",
    "ConfigError",
    "DataConfig",
    "MethodConfig",
    "ModelConfig",
    "QuantizationConfig",
    "RunConfig",
    "TrainingConfig",
    "field_help",
    "preset",
]
