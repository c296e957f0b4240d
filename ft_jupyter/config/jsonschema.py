"""`RunConfig` as JSON Schema (draft 2020-12), generated from the config dataclasses' own field declarations.

The help text, choices and bounds each field declares with `opt(...)` become `description`, `enum` and
`minimum`/`maximum`, so the sidebar's form, the panels and the CLI all read one source of truth. What the fields
mean together (`config/semantics.py`) travels as `x-ft-…` keywords, which JSON Schema validators ignore and the
sidebar's form interprets:

- per property: `x-ft-group` ("key" or "advanced"), `x-ft-order` (a key field's place in the form),
  `x-ft-applies-when` (conditions `{"path", "in" | "not_in", "why"}` that must all hold for the field to do
  anything), and `x-ft-suggestions` (`[{"value", "label"}]` a free-text field offers; filled in by the caller);
- at the top: `x-ft-sections` (section order; "run" holds the top-level fields), `x-ft-methods` (the method menu:
  `{"key", "label", "values": {path: value}}`), `x-ft-couplings` (`{"on", "when", "set", "value" | "value_from",
  "note", "option"?}`: what an edit implies, applied as `config.form.apply_edits` applies them), `x-ft-options`
  (rules a person switches on, by name) and `x-ft-presets` (`{"name", "help", "values"}` to start from).

Rules that tie fields together beyond these (QLoRA needs a 4-bit base) are checked by `RunConfig.from_dict`, and the
server answers with its message.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from ft_jupyter.config.form import preset_values
from ft_jupyter.config.presets import PRESET_HELP, PRESETS
from ft_jupyter.config.run import _NAME_RE, SECTIONS, TOP_LEVEL_HELP, RunConfig
from ft_jupyter.config.semantics import APPLIES_WHEN, COUPLINGS, KEY_FIELDS, METHODS, OPTIONS, SECTION_ORDER

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


def form_keywords(path: str, suggestions: dict[str, list[dict[str, str]]]) -> dict[str, Any]:
    """The `x-ft-…` keywords of one property: its group and order, when it applies, what it suggests."""
    out: dict[str, Any] = {"x-ft-group": "key" if path in KEY_FIELDS else "advanced"}
    if path in KEY_FIELDS:
        out["x-ft-order"] = KEY_FIELDS.index(path)
    if path in APPLIES_WHEN:
        out["x-ft-applies-when"] = [condition.to_json() for condition in APPLIES_WHEN[path]]
    if path in suggestions:
        out["x-ft-suggestions"] = suggestions[path]
    return out


def section_schema(key: str, suggestions: dict[str, list[dict[str, str]]] | None = None) -> dict[str, Any]:
    cls = SECTIONS[key]
    hints = typing.get_type_hints(cls)
    properties = {
        f.name: field_schema(f, hints[f.name]) | form_keywords(f"{key}.{f.name}", suggestions or {})
        for f in dataclasses.fields(cls)
    }
    return {"type": "object", "title": key, "properties": properties, "additionalProperties": False}


def run_config_schema(suggestions: dict[str, list[dict[str, str]]] | None = None) -> dict[str, Any]:
    """The whole `RunConfig` as a JSON Schema; `RunConfig().to_dict()` validates against it. `suggestions`: values
    to offer per dotted path (config knows no model names; `models.catalogue.form_suggestions()` does)."""
    suggestions = suggestions or {}
    unknown = set(suggestions) - {f"{k}.{f.name}" for k, cls in SECTIONS.items() for f in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"suggestions for unknown fields {sorted(unknown)}")
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
    for name in TOP_LEVEL_HELP:
        properties[name] |= form_keywords(name, {})
    properties.update({key: section_schema(key, suggestions) for key in SECTIONS})
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "RunConfig",
        "description": (RunConfig.__doc__ or "").strip(),
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "x-ft-sections": list(SECTION_ORDER),
        "x-ft-methods": [choice.to_json() for choice in METHODS],
        "x-ft-couplings": [coupling.to_json() for coupling in COUPLINGS],
        "x-ft-options": {name: option.to_json() for name, option in OPTIONS.items()},
        "x-ft-presets": [{"name": n, "help": PRESET_HELP[n], "values": preset_values(n)} for n in PRESETS],
    }
