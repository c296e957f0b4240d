"""The JSON Schema is generated from the config dataclasses and agrees with their own validation."""

from __future__ import annotations

import dataclasses

import jsonschema
import pytest

from ft_jupyter.config import PRESETS, SECTIONS, ConfigError, RunConfig, preset
from ft_jupyter.config.jsonschema import run_config_schema

SCHEMA = run_config_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _fields():
    for key, cls in SECTIONS.items():
        for field in dataclasses.fields(cls):
            yield key, field


def test_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_validates(name):
    VALIDATOR.validate(preset(name).to_dict())


def test_defaults_are_the_dataclass_defaults():
    defaults = RunConfig().to_dict()
    for key in SECTIONS:
        properties = SCHEMA["properties"][key]["properties"]
        assert {name: prop["default"] for name, prop in properties.items()} == defaults[key]
    assert SCHEMA["properties"]["name"]["default"] == defaults["name"]


@pytest.mark.parametrize(("key", "field"), list(_fields()), ids=lambda v: getattr(v, "name", v))
def test_each_field_carries_its_help_and_constraints(key, field):
    prop = SCHEMA["properties"][key]["properties"][field.name]
    assert prop["description"] == field.metadata["help"] and prop["description"]
    if field.metadata["choices"]:
        assert prop["enum"] == list(field.metadata["choices"])
    if field.metadata["low"] is not None:
        bound = "exclusiveMinimum" if field.metadata["low_open"] else "minimum"
        assert prop[bound] == field.metadata["low"]
    if field.metadata["high"] is not None:
        assert prop["maximum"] == field.metadata["high"]


def _rejected_by_config(data: dict) -> bool:
    try:
        RunConfig.from_dict(data)
    except ConfigError:
        return True
    return False


@pytest.mark.parametrize(
    ("key", "field"),
    [
        (k, f)
        for k, f in _fields()
        if f.metadata["choices"] or f.metadata["low"] is not None or f.metadata["high"] is not None
    ],
    ids=lambda v: getattr(v, "name", v),
)
def test_schema_and_config_reject_the_same_out_of_range_values(key, field):
    meta = field.metadata
    bad_values = []
    if meta["choices"]:
        bad_values.append("not-a-choice")
    if meta["low"] is not None:
        bad_values.append(meta["low"] if meta["low_open"] else meta["low"] - 1)
    if meta["high"] is not None:
        bad_values.append(meta["high"] + 1)
    for value in bad_values:
        data = RunConfig().to_dict()
        data[key][field.name] = value
        assert not VALIDATOR.is_valid(data), (key, field.name, value)
        assert _rejected_by_config(data), (key, field.name, value)


def test_unknown_keys_and_bad_names_fail_like_the_config():
    for data in ({"method": {"rank": 8}}, {"nmae": "x"}, {"name": "has space"}):
        full = {**RunConfig().to_dict(), **data}
        assert not VALIDATOR.is_valid(full), data
        assert _rejected_by_config(data), data
