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


# ---- what the form needs besides: the x-ft- keywords, exported from config/semantics.py ----------------------------
def _properties():
    for key in SECTIONS:
        for name, prop in SCHEMA["properties"][key]["properties"].items():
            yield f"{key}.{name}", prop
    for name in ("name", "runs_dir"):
        yield name, SCHEMA["properties"][name]


def test_every_property_has_its_group_and_key_fields_their_order():
    from ft_jupyter.config.semantics import KEY_FIELDS

    props = dict(_properties())
    assert {path for path, p in props.items() if p["x-ft-group"] == "key"} == set(KEY_FIELDS)
    assert sorted(KEY_FIELDS, key=lambda path: props[path]["x-ft-order"]) == list(KEY_FIELDS)
    assert all(p["x-ft-group"] in ("key", "advanced") for p in props.values())
    assert SCHEMA["x-ft-sections"] == ["model", "method", "quantization", "training", "data", "run"]


def test_applies_when_couplings_methods_options_and_presets_travel_as_data():
    from ft_jupyter.config.form import preset_values
    from ft_jupyter.config.semantics import APPLIES_WHEN, COUPLINGS, METHODS

    props = dict(_properties())
    assert {path for path, p in props.items() if "x-ft-applies-when" in p} == set(APPLIES_WHEN)
    assert props["method.target_modules"]["x-ft-applies-when"][1] == {
        "path": "method.target_preset",
        "in": ["custom"],
        "why": "used when target_preset is custom",
    }
    assert len(SCHEMA["x-ft-couplings"]) == len(COUPLINGS)
    alpha = next(c for c in SCHEMA["x-ft-couplings"] if c.get("option") == "alpha_follows_r")
    assert alpha["value_from"] == {"path": "method.r", "times": 2} and alpha["on"] == "method.r"
    assert [m["key"] for m in SCHEMA["x-ft-methods"]] == [c.key for c in METHODS]
    assert {
        "key": "lora-8bit",
        "label": "LoRA on an 8-bit base",
        "values": {"method.method": "lora", "quantization.mode": "8bit"},
    } in SCHEMA["x-ft-methods"]
    assert SCHEMA["x-ft-options"]["alpha_follows_r"]["field"] == "method.alpha"
    presets = {p["name"]: p for p in SCHEMA["x-ft-presets"]}
    assert set(presets) == set(PRESETS) and all(p["help"] for p in presets.values())
    assert (
        presets["qlora-t4"]["values"] == preset_values("qlora-t4") and "runs_dir" not in presets["qlora-t4"]["values"]
    )


def test_suggestions_are_added_where_the_caller_gives_them():
    given = {"model.name": [{"value": "tiny-random", "label": "for tests"}]}
    schema = run_config_schema(given)
    assert schema["properties"]["model"]["properties"]["name"]["x-ft-suggestions"] == given["model.name"]
    assert "x-ft-suggestions" not in SCHEMA["properties"]["model"]["properties"]["name"]
    jsonschema.Draft202012Validator.check_schema(schema)
    with pytest.raises(ValueError, match="model.nmae"):
        run_config_schema({"model.nmae": []})
