"""`RunConfig` as JSON Schema (draft 2020-12), generated from the config dataclasses' own field declarations.

The help text, choices and bounds each field declares with `opt(...)` become `description`, `enum` and
`minimum`/`maximum`, so the sidebar's form, the panels and the CLI all read one source of truth. Rules that tie
several fields together (QLoRA needs a 4-bit base, say) are not expressible here: `RunConfig.from_dict` checks
them, and the server answers with its message.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from ft_jupyter.config.run import _NAME_RE, SECTIONS, TOP_LEVEL_HELP, RunConfig

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


def _type_of(hint: Any) -> tuple[Any, bool]:
    """(scalar type, may be null) for annotations such as `int`, `str | None`, `tuple[str, ...]`."""
    args = typing.get_args(hint)
    if type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return _type_of(inner)[0], True
    return (tuple if typing.get_origin(hint) is tuple else hint), False


def field_schema(field: dataclasses.Field, hint: Any) -> dict[str, Any]:
    """One property: type, default, description (the help text) and the declared choices or bounds."""
    meta = field.metadata
    scalar, nullable = _type_of(hint)
    if scalar is tuple:
        prop: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
    elif scalar in _JSON_TYPES:
        prop = {"type": _JSON_TYPES[scalar]}
    else:
        raise TypeError(f"{field.name}: no JSON Schema type for {hint!r}; add it to config/jsonschema.py.")
    if nullable:
        prop["type"] = [prop["type"], "null"]
    default = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
    prop["default"] = list(default) if isinstance(default, tuple) else default
    prop["description"] = meta.get("help", "")
    if meta.get("choices"):
        prop["enum"] = list(meta["choices"]) + ([None] if nullable else [])
    if meta.get("low") is not None:
        prop["exclusiveMinimum" if meta.get("low_open") else "minimum"] = meta["low"]
    if meta.get("high") is not None:
        prop["maximum"] = meta["high"]
    return prop


def section_schema(key: str) -> dict[str, Any]:
    cls = SECTIONS[key]
    hints = typing.get_type_hints(cls)
    properties = {f.name: field_schema(f, hints[f.name]) for f in dataclasses.fields(cls)}
    return {"type": "object", "title": key, "properties": properties, "additionalProperties": False}


def run_config_schema() -> dict[str, Any]:
    """The whole `RunConfig` as a JSON Schema; `RunConfig().to_dict()` validates against it."""
    defaults = RunConfig()
    properties: dict[str, Any] = {
        "name": {
            "type": "string",
            "default": defaults.name,
            "description": TOP_LEVEL_HELP["name"],
            "pattern": _NAME_RE.pattern,
        },
        "runs_dir": {
            "type": "string",
            "default": defaults.runs_dir,
            "description": TOP_LEVEL_HELP["runs_dir"],
            "minLength": 1,
        },
    }
    properties.update({key: section_schema(key) for key in SECTIONS})
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "RunConfig",
        "description": (RunConfig.__doc__ or "").strip(),
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
