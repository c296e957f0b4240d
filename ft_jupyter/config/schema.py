"""Field declaration and validation helpers shared by the config dataclasses.

Every field carries a one-line help text (shown by the panels, the sidebar and the CLI) and, where it applies, the
allowed choices or numeric bounds. Validation reads those declarations, so a rule lives in exactly one place.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from typing import Any


class ConfigError(ValueError):
    """A configuration value that cannot be used, with the field, the value and what is allowed."""


def opt(
    default: Any,
    help: str,
    *,
    choices: tuple | None = None,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    factory: Any = None,
) -> Any:
    """Declare a config field with its help text and constraints (kept in dataclass metadata)."""
    meta = {"help": help, "choices": choices, "low": low, "high": high, "low_open": low_open}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _base_type(tp: Any) -> tuple[Any, bool]:
    """Return (scalar type, optional?) for annotations such as `int`, `float | None`, `tuple[str, ...]`."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        inner, _ = _base_type(args[0])
        return inner, True
    if origin is tuple:
        return tuple, False
    return tp, False


def _describe(meta: dict, tp: Any) -> str:
    if meta.get("choices"):
        return "one of " + ", ".join(repr(c) for c in meta["choices"])
    low, high = meta.get("low"), meta.get("high")
    kind = {int: "an integer", float: "a number", bool: "true or false", str: "text", tuple: "a list"}.get(tp, str(tp))
    if low is not None and high is not None:
        left = ">" if meta.get("low_open") else "≥"
        return f"{kind} {left} {low:g} and ≤ {high:g}"
    if low is not None:
        return f"{kind} {'>' if meta.get('low_open') else '≥'} {low:g}"
    return kind


def coerce(section: str, f: dataclasses.Field, value: Any, hints: dict) -> Any:
    """Convert a YAML/JSON/UI value to the field's type, or raise ConfigError naming section.field."""
    tp, optional = _base_type(hints[f.name])
    where = f"{section}.{f.name}"
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{where} is empty; it must be {_describe(dict(f.metadata), tp)}.")
    try:
        if tp is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in (
                "true",
                "yes",
                "on",
                "1",
                "false",
                "no",
                "off",
                "0",
            ):
                return value.strip().lower() in ("true", "yes", "on", "1")
            raise TypeError
        if tp is int:
            if isinstance(value, bool):
                raise TypeError
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str):
                return int(value.strip())
            if isinstance(value, int):
                return value
            raise TypeError
        if tp is float:
            if isinstance(value, bool):
                raise TypeError
            # YAML 1.1 reads "2e-4" (no dot) as a string; accept it as the number a person meant.
            return float(value)
        if tp is str:
            if isinstance(value, str):
                return value
            raise TypeError
        if tp is tuple:
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                return tuple(value)
            raise TypeError
    except (TypeError, ValueError):
        raise ConfigError(
            f"{where} = {value!r} has the wrong type; it must be {_describe(dict(f.metadata), tp)}."
        ) from None
    return value


def validate(obj: Any) -> None:
    """Check every field of a config dataclass against its declared type, choices and bounds."""
    section = obj.SECTION
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        coerced = coerce(section, f, value, hints)
        if coerced is not value:
            object.__setattr__(obj, f.name, coerced)
            value = coerced
        meta = dict(f.metadata)
        tp, _ = _base_type(hints[f.name])
        where = f"{section}.{f.name}"
        if value is None:
            continue
        if meta.get("choices") and value not in meta["choices"]:
            close = difflib.get_close_matches(str(value), [str(c) for c in meta["choices"]], n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{where} = {value!r} is not allowed; it must be {_describe(meta, tp)}.{hint}")
        if tp in (int, float):
            if tp is float and not math.isfinite(value):
                raise ConfigError(f"{where} = {value!r} is not a finite number.")
            low, high = meta.get("low"), meta.get("high")
            too_low = low is not None and (value <= low if meta.get("low_open") else value < low)
            too_high = high is not None and value > high
            if too_low or too_high:
                raise ConfigError(f"{where} = {value!r} is out of range; it must be {_describe(meta, tp)}.")


def help_texts(cls: type) -> dict[str, str]:
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}


def unknown_key_error(section: str, key: str, known: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else f" Known keys: {', '.join(known)}."
    where = f"{section}.{key}" if section else key
    return ConfigError(f"Unknown setting {where!r}.{hint}")
