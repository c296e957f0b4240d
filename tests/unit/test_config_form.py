"""What config fields mean together (config/semantics.py) and editing through it (config/form.py): every method ×
quantization combination, each coupling, each applies-when condition, the options and the presets."""

from __future__ import annotations

import itertools
import re

import pytest

from ft_jupyter.config import PRESETS, ConfigError, RunConfig, preset
from ft_jupyter.config.form import (
    apply_edit,
    apply_option,
    check_path,
    choose_method,
    method_key,
    options_in_force,
    relevance,
    start_from,
)
from ft_jupyter.config.semantics import APPLIES_WHEN, COUPLINGS, HEAD_FIXED, KEY_FIELDS, METHODS, OPTIONS, get_path

METHOD_VALUES = ("lora", "qlora", "full", "freeze", "head")
MODES = ("none", "8bit", "4bit")


def _accepted(data: dict) -> bool:
    try:
        RunConfig.from_dict(data)
    except ConfigError:
        return False
    return True


def _starts() -> list[tuple[str, dict]]:
    """Each menu entry applied to the defaults and to each preset: every valid combination, from several configs."""
    bases = {"defaults": RunConfig().to_dict(), **{name: preset(name).to_dict() for name in PRESETS}}
    return [
        (f"{base}+{choice.key}", choose_method(data, choice.key).config)
        for (base, data), choice in itertools.product(bases.items(), METHODS)
    ]


STARTS = _starts()


def test_the_menu_lists_exactly_the_combinations_runconfig_accepts():
    accepted = {
        (method, mode)
        for method, mode in itertools.product(METHOD_VALUES, MODES)
        if _accepted({"method": {"method": method}, "quantization": {"mode": mode}})
    }
    assert accepted == {(c.method, c.quantization) for c in METHODS}
    assert ("lora", "8bit") in accepted  # LoRA on an 8-bit base is offered, not only by the panel
    assert len({c.key for c in METHODS}) == len(METHODS)


@pytest.mark.parametrize("start", STARTS, ids=lambda s: s[0])
@pytest.mark.parametrize("choice", METHODS, ids=lambda c: c.key)
def test_every_menu_choice_from_every_combination_gives_a_config_runconfig_accepts(start, choice):
    edit = choose_method(start[1], choice.key)
    config = RunConfig.from_dict(edit.config)
    assert (config.method.method, config.quantization.mode) == (choice.method, choice.quantization)
    assert method_key(edit.config) == choice.key


@pytest.mark.parametrize("start", STARTS, ids=lambda s: s[0])
@pytest.mark.parametrize(
    ("path", "value"), [("method.method", m) for m in METHOD_VALUES] + [("quantization.mode", q) for q in MODES]
)
def test_every_method_or_quantization_edit_gives_a_config_runconfig_accepts(start, path, value):
    edit = apply_edit(start[1], path, value)
    assert get_path(edit.config, path) == value  # the edited field keeps what the person chose
    RunConfig.from_dict(edit.config)
    assert all(change.note for change in edit.changes)


def test_an_edit_never_changes_the_config_it_was_given():
    data = RunConfig().to_dict()
    before = RunConfig().to_dict()
    apply_edit(data, "method.method", "head")
    choose_method(data, "qlora")
    assert data == before


# ---- each coupling ------------------------------------------------------------------------------------------------
LORA = RunConfig().to_dict()
QLORA = choose_method(LORA, "qlora").config
EIGHT = choose_method(LORA, "lora-8bit").config
FULL = choose_method(LORA, "full").config
PACKED = apply_edit(LORA, "training.packing", True).config
FREEZE_NOTHING = {**LORA, "method": {**LORA["method"], "freeze_train_blocks": 0, "freeze_train_head": False}}
CUSTOM = {**LORA, "method": {**LORA["method"], "target_preset": "custom", "target_modules": ["q_proj"]}}
WITH_HEAD_OPTIONS = {
    **LORA,
    "training": {
        **LORA["training"],
        "layer_lr_decay": 0.9,
        "unfreeze_every_steps": 5,
        "l2_to_init": 0.1,
        "ewc_lambda": 1.0,
        "packing": True,
    },
    "data": {**LORA["data"], "mix_fraction": 0.1},
    "method": {**LORA["method"], "freeze_train_head": False},
}
CASES = [
    # (start, edited path, value, options, {coupled path: value}, words in the notes)
    ("qlora sets a 4-bit base", LORA, "method.method", "qlora", (), {"quantization.mode": "4bit"}, "QLoRA"),
    ("lora leaves a 4-bit base", QLORA, "method.method", "lora", (), {"quantization.mode": "none"}, "is QLoRA"),
    ("full clears quantization", EIGHT, "method.method", "full", (), {"quantization.mode": "none"}, "full updates"),
    ("freeze clears 4-bit", QLORA, "method.method", "freeze", (), {"quantization.mode": "none"}, "freeze updates"),
    ("4-bit makes qlora", LORA, "quantization.mode", "4bit", (), {"method.method": "qlora"}, "4-bit base"),
    ("4-bit makes full qlora", FULL, "quantization.mode", "4bit", (), {"method.method": "qlora"}, "4-bit base"),
    ("leaving 4-bit makes lora", QLORA, "quantization.mode", "8bit", (), {"method.method": "lora"}, "needs a 4-bit"),
    ("8-bit makes full lora", FULL, "quantization.mode", "8bit", (), {"method.method": "lora"}, "8-bit base"),
    ("lora keeps 8-bit", EIGHT, "method.method", "lora", (), {}, ""),
    ("head on a packed run", PACKED, "method.method", "head", (), {"training.packing": False}, "head method"),
    (
        "head resets what it cannot do",
        WITH_HEAD_OPTIONS,
        "method.method",
        "head",
        (),
        {**{path: value for path, (value, _) in HEAD_FIXED.items()}, "method.freeze_train_head": True},
        "always trains",
    ),
    (
        "freeze trains something",
        FREEZE_NOTHING,
        "method.method",
        "freeze",
        (),
        {"method.freeze_train_head": True},
        "train nothing",
    ),
    (
        "a preset clears modules",
        CUSTOM,
        "method.target_preset",
        "attention",
        (),
        {"method.target_modules": []},
        "custom",
    ),
    ("r alone leaves alpha", LORA, "method.r", 64, (), {}, ""),
    ("r with the 2×r rule", LORA, "method.r", 64, ("alpha_follows_r",), {"method.alpha": 128}, "alpha set to 128"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_each_coupling_changes_what_it_says_and_says_so(case):
    _, start, path, value, options, coupled, words = case
    edit = apply_edit(start, path, value, options=options)
    assert {c.path: c.value for c in edit.changes} == coupled
    assert all(get_path(edit.config, p) == v for p, v in coupled.items())
    assert words in " ".join(edit.notes)
    assert len(edit.notes) == len(coupled)
    RunConfig.from_dict(edit.config)


def _note_pattern(note: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(part) for part in re.split(r"\{[a-z_.]+\}", note)) + "$")


def test_every_coupling_is_exercised_by_a_case():
    notes = [note for case in CASES for note in apply_edit(case[1], case[2], case[3], options=case[4]).notes]
    unexercised = [c.note for c in COUPLINGS if not any(_note_pattern(c.note).match(n) for n in notes)]
    assert not unexercised


def test_explicit_edits_win_over_couplings():
    edit = choose_method(LORA, "lora-8bit")  # sets method and quantization together: neither overrides the other
    assert (edit.config["method"]["method"], edit.config["quantization"]["mode"]) == ("lora", "8bit")
    assert edit.changes == ()


# ---- options ------------------------------------------------------------------------------------------------------
def test_alpha_follows_r_only_when_switched_on_and_switching_it_on_applies_it():
    data = apply_edit(LORA, "method.r", 8).config
    assert data["method"]["alpha"] == 32 and options_in_force(data) == frozenset()
    on = apply_option(data, "alpha_follows_r")
    assert on.config["method"]["alpha"] == 16 and on.notes == ("method.alpha set to 16: keep alpha = 2 × r is on.",)
    assert options_in_force(on.config) == {"alpha_follows_r"}
    assert options_in_force(LORA) == {"alpha_follows_r"}  # the defaults already follow 2 × r
    assert set(OPTIONS) == {"alpha_follows_r"} and OPTIONS["alpha_follows_r"].flag == "--alpha-follows-r"
    with pytest.raises(ConfigError, match="Unknown option"):
        apply_edit(LORA, "method.r", 8, options=["alpha_rule"])


# ---- applies when -------------------------------------------------------------------------------------------------
HEAD = choose_method(LORA, "head").config
FREEZE = choose_method(LORA, "freeze").config
WSD = apply_edit(LORA, "training.scheduler", "wsd").config
EWC = apply_edit(FULL, "training.ewc_lambda", 0.1).config
APPLIES = {  # path: (a config where it applies, one where it does not, words of the why)
    **{f"method.{n}": (LORA, FULL, "LoRA and QLoRA only") for n in ("r", "alpha", "dropout", "target_preset")},
    **{f"method.{n}": (QLORA, HEAD, "LoRA and QLoRA only") for n in ("bias", "use_rslora", "use_dora")},
    "method.target_modules": (CUSTOM, LORA, "target_preset is custom"),
    "method.freeze_train_blocks": (HEAD, LORA, "freeze and head methods"),
    "method.freeze_train_head": (FREEZE, HEAD, "freeze method only"),
    **{f"quantization.{n}": (QLORA, EIGHT, "4-bit") for n in ("quant_type", "double_quant", "compute_dtype")},
    "training.decay_ratio": (WSD, LORA, "wsd"),
    **dict.fromkeys(HEAD_FIXED, (FREEZE, HEAD, "head method")),
    "training.ewc_texts": (EWC, FULL, "ewc_lambda is above 0"),
}


@pytest.mark.parametrize("path", sorted(APPLIES))
def test_each_applies_when_condition(path):
    applies, not_applies, why = APPLIES[path]
    assert relevance(applies, path) is None
    reason = relevance(not_applies, path)
    assert reason is not None and why in reason
    assert re.search(r"\(\S+ is \S+\)$", reason)  # says what the deciding field is now


def test_the_table_covers_every_applies_when_and_other_fields_always_apply():
    assert set(APPLIES) == set(APPLIES_WHEN)
    assert relevance(HEAD, "training.learning_rate") is None
    assert relevance(FULL, "method.target_modules").startswith("used by LoRA")  # the first failing condition


def test_every_path_in_the_rules_names_a_field():
    paths = set(KEY_FIELDS) | set(APPLIES_WHEN) | {o.field for o in OPTIONS.values()}
    paths |= {p for c in COUPLINGS for p in (c.on, c.set, *(w.path for w in c.when))}
    paths |= {w.path for conditions in APPLIES_WHEN.values() for w in conditions}
    paths |= {p for choice in METHODS for p in choice.values}
    for path in paths:
        check_path(path)
    with pytest.raises(ConfigError, match="Did you mean 'r'"):
        check_path("method.rr")


# ---- presets ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_starting_from_a_preset_keeps_where_runs_go(name):
    mine = {**LORA, "runs_dir": "/shared/runs", "name": "mine"}
    edit = start_from(mine, name)
    assert RunConfig.from_dict(edit.config) == preset(name).replace(runs_dir="/shared/runs")
    assert edit.notes[0].startswith(f"Started from preset {name!r}: ") and len(edit.notes[0]) > 40
    assert method_key(edit.config) in {c.key for c in METHODS}


def test_unknown_names_are_refused_with_the_choices():
    with pytest.raises(ConfigError, match="cpu-quickstart"):
        start_from(LORA, "quick")
    with pytest.raises(ConfigError, match="lora-8bit"):
        choose_method(LORA, "lora8")
    with pytest.raises(ConfigError, match="not a combination"):
        method_key({**LORA, "method": {**LORA["method"], "method": "full"}, "quantization": {"mode": "4bit"}})
