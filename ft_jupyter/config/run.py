"""`RunConfig`: everything one fine-tuning run needs, with an exact YAML round-trip."""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ft_jupyter.config.schema import ConfigError, coerce, help_texts, unknown_key_error
from ft_jupyter.config.sections import (
    DataConfig,
    MethodConfig,
    ModelConfig,
    QuantizationConfig,
    TrainingConfig,
)
from ft_jupyter.config.semantics import HEAD_FIXED, get_path, same, shown

SECTIONS: dict[str, type] = {
    "model": ModelConfig,
    "quantization": QuantizationConfig,
    "method": MethodConfig,
    "data": DataConfig,
    "training": TrainingConfig,
}
TOP_LEVEL_HELP = {
    "name": "Short run name, used in the run folder's id (letters, digits, - and _).",
    "runs_dir": "Folder that holds one sub-folder per run.",
}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class RunConfig:
    """The single description of a run: the panels, the sidebar, the CLI and YAML files all produce one."""

    name: str = "run"
    runs_dir: str = "runs"
    model: ModelConfig = field(default_factory=ModelConfig)
    quantization: QuantizationConfig = field(default_factory=QuantizationConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    data: DataConfig = field(default_factory=DataConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def __post_init__(self) -> None:
        for key, cls in SECTIONS.items():
            if not isinstance(getattr(self, key), cls):
                raise ConfigError(f"{key} must be a {cls.__name__}, got {type(getattr(self, key)).__name__}.")
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise ConfigError(
                f"name = {self.name!r} is not allowed; use 1-64 letters, digits, '-', '_' or '.', "
                "starting with a letter or digit."
            )
        if not isinstance(self.runs_dir, str) or not self.runs_dir.strip():
            raise ConfigError("runs_dir is empty; give a folder such as 'runs'.")
        self._check_combination()

    def _check_combination(self) -> None:
        method, quant = self.method.method, self.quantization.mode
        if method == "qlora" and quant != "4bit":
            raise ConfigError(
                f"method.method = 'qlora' needs quantization.mode = '4bit' (it is {quant!r}). Set it, "
                "or use method 'lora' for a non-quantized base."
            )
        if method == "lora" and quant == "4bit":
            raise ConfigError(
                "method.method = 'lora' with quantization.mode = '4bit' is QLoRA; set method.method to "
                "'qlora' so the 4-bit preparation steps run."
            )
        if method in ("full", "freeze") and quant != "none":
            raise ConfigError(
                f"method.method = {method!r} trains base weights, which cannot be updated while "
                f"quantized (quantization.mode = {quant!r}); set quantization.mode to 'none' or use "
                "lora/qlora."
            )
        if method == "head":
            self._check_head()

    def _check_head(self) -> None:
        """method 'head' trains a classifier with a plain transformers Trainer: the SFT-only options do not apply."""
        if self.quantization.mode != "none":
            raise ConfigError(
                f"method.method = 'head' loads the backbone unquantized (its top blocks may train), but "
                f"quantization.mode = {self.quantization.mode!r}; set quantization.mode to 'none' (a "
                "frozen backbone needs no optimizer memory), or use qlora for a 4-bit base."
            )
        data = self.to_dict()
        for name, (value, why) in HEAD_FIXED.items():
            if not same(get_path(data, name), value):
                fix = f"set it to {shown(value)}" + (f": {why}" if why else "")
                raise ConfigError(
                    f"{name} is a language-model fine-tuning option that method.method = 'head' (a "
                    f"classification head on label ids) does not support; {fix}, or use method "
                    "'freeze'."
                )

    # ---- dict / YAML -------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "runs_dir": self.runs_dir}
        for key in SECTIONS:
            section = dataclasses.asdict(getattr(self, key))
            out[key] = {k: list(v) if isinstance(v, tuple) else v for k, v in section.items()}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RunConfig:
        if data is not None and not isinstance(data, dict):
            raise ConfigError(f"A run config must be a mapping of sections, got {type(data).__name__}.")
        data = dict(data or {})
        known = ["name", "runs_dir", *SECTIONS]
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise unknown_key_error("", str(key), known)
            if key in SECTIONS:
                kwargs[key] = _section_from_dict(key, value)
            else:
                kwargs[key] = value
        return cls(**kwargs)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, default_flow_style=False)

    @classmethod
    def from_yaml(cls, text: str, source: str = "<yaml>") -> RunConfig:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{source}:{mark.line + 1}" if mark is not None else source
            raise ConfigError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)}).") from None
        if data is not None and not isinstance(data, dict):
            raise ConfigError(
                f"{source}: a run config must be a mapping of sections (model:, method:, ...), "
                f"got {type(data).__name__}."
            )
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.to_yaml(), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(
                f"Config file {str(path)!r} does not exist; write one with RunConfig().save(path) or "
                "`ft-jupyter config --default > run.yaml`."
            )
        return cls.from_yaml(path.read_text(encoding="utf-8"), source=str(path))

    # ---- edits ---------------------------------------------------------------------------------------------------
    def with_overrides(self, overrides: dict[str, Any]) -> RunConfig:
        """Return a copy with dotted keys replaced, e.g. {"training.learning_rate": "1e-4", "method.r": 8}."""
        data = self.to_dict()
        for dotted, value in overrides.items():
            parts = dotted.split(".")
            if len(parts) == 1:
                if parts[0] not in TOP_LEVEL_HELP:
                    raise unknown_key_error("", parts[0], [*TOP_LEVEL_HELP, *SECTIONS])
                data[parts[0]] = value
                continue
            if len(parts) != 2 or parts[0] not in SECTIONS:
                raise unknown_key_error("", dotted, [f"{s}.<field>" for s in SECTIONS])
            section, key = parts
            if key not in data[section]:
                raise unknown_key_error(section, key, list(data[section]))
            data[section][key] = parse_scalar(value)
        return RunConfig.from_dict(data)

    def replace(self, **sections: Any) -> RunConfig:
        return dataclasses.replace(self, **sections)


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """`--set section.field=value` arguments as the dict `RunConfig.with_overrides` takes; ConfigError on a pair
    without '=' or a key."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {pair!r} must look like section.field=value, e.g. training.learning_rate=1e-4")
        out[key.strip()] = value
    return out


def parse_scalar(value: Any) -> Any:
    """`--set key=value` gives strings; read them as YAML scalars so 'true', '8' and '[a, b]' mean what they say."""
    if not isinstance(value, str):
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    # No field holds a mapping: text with "key: value" in it (an instruction, a system prompt) stays text.
    return value if isinstance(parsed, dict) else parsed


def _section_from_dict(key: str, value: Any) -> Any:
    cls = SECTIONS[key]
    if value is None:
        return cls()
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a mapping of settings, got {type(value).__name__} ({value!r}).")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for k, v in value.items():
        if k not in fields:
            raise unknown_key_error(key, str(k), list(fields))
        kwargs[k] = coerce(key, fields[k], v, hints)
    return cls(**kwargs)


def field_help() -> dict[str, dict[str, str]]:
    """Help text of every field, by section (the UIs show these next to each control)."""
    out = {"": dict(TOP_LEVEL_HELP)}
    out.update({key: help_texts(cls) for key, cls in SECTIONS.items()})
    return out
