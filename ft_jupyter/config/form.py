"""Editing a config the way a person does, one field at a time: each edit brings its coupled consequences
(`config/semantics.py`'s couplings) and says what else it changed. Every front-end edits through here: the panel,
the CLI flags, and (through the same data in the JSON Schema) the lab sidebar's form.

Configs are plain dicts in `RunConfig.to_dict()`'s shape, because a form passes through states RunConfig refuses
(QLoRA on an unquantized base, for the instant between two edits); `RunConfig.from_dict` judges the result.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ft_jupyter.config.presets import PRESET_HELP, PRESETS, preset
from ft_jupyter.config.run import SECTIONS, TOP_LEVEL_HELP, RunConfig, parse_overrides, parse_scalar
from ft_jupyter.config.schema import ConfigError, unknown_key_error
from ft_jupyter.config.semantics import (
    APPLIES_WHEN,
    COUPLINGS,
    METHODS,
    OPTIONS,
    Coupling,
    MethodChoice,
    get_path,
    same,
    shown,
)

_PLACEHOLDER = re.compile(r"\{([a-z_.]+)\}")


@dataclass(frozen=True)
class Change:
    """A field an edit changed besides the one edited, and why."""

    path: str
    value: Any
    note: str


@dataclass(frozen=True)
class Edit:
    config: dict[str, Any]
    changes: tuple[Change, ...] = ()
    headline: str = ""  # what the edit as a whole did, when that is more than its field (a preset)

    @property
    def notes(self) -> tuple[str, ...]:
        return ((self.headline,) if self.headline else ()) + tuple(change.note for change in self.changes)


def check_path(path: str) -> None:
    """ConfigError, with the nearest known name, for a path that names no field."""
    section, dot, name = path.partition(".")
    if not dot:
        if section not in TOP_LEVEL_HELP:
            raise unknown_key_error("", section, [*TOP_LEVEL_HELP, *SECTIONS])
        return
    if section not in SECTIONS:
        raise unknown_key_error("", path, [f"{s}.<field>" for s in SECTIONS])
    known = [f.name for f in dataclasses.fields(SECTIONS[section])]
    if name not in known:
        raise unknown_key_error(section, name, known)


def _set(config: dict[str, Any], path: str, value: Any) -> None:
    section, dot, name = path.partition(".")
    if dot:
        config[section][name] = value
    else:
        config[section] = value


def _note(coupling: Coupling, config: Mapping[str, Any], value: Any) -> str:
    def fill(match: re.Match) -> str:
        key = match.group(1)
        return shown(value) if key == "value" else shown(get_path(config, key))

    return _PLACEHOLDER.sub(fill, coupling.note)


def apply_edits(config: Mapping[str, Any], edits: Mapping[str, Any], *, options: Iterable[str] = ()) -> Edit:
    """`config` with every `path: value` of `edits` set, then the couplings each edit triggers, in order (a coupled
    change triggers the couplings on its own path in turn). A coupling never overrides a path in `edits`: what a
    person sets explicitly stays, and RunConfig says so if it cannot."""
    on = set(options)
    unknown = on - set(OPTIONS)
    if unknown:
        raise ConfigError(f"Unknown option(s) {sorted(unknown)}; known: {', '.join(OPTIONS)}.")
    for path in edits:
        check_path(path)
    data = copy.deepcopy(dict(config))
    for path, value in edits.items():
        _set(data, path, value)
    changes: list[Change] = []
    fixed = set(edits)
    queue = list(edits)
    while queue:
        path = queue.pop(0)
        for coupling in COUPLINGS:
            if coupling.on != path or coupling.set in fixed:
                continue
            if coupling.option is not None and coupling.option not in on:
                continue
            if not all(condition.holds(data) for condition in coupling.when):
                continue
            value = coupling.target(data)
            if same(get_path(data, coupling.set), value):
                continue
            changes.append(Change(coupling.set, value, _note(coupling, data, value)))
            _set(data, coupling.set, value)
            fixed.add(coupling.set)
            queue.append(coupling.set)
    return Edit(data, tuple(changes))


def apply_edit(config: Mapping[str, Any], path: str, value: Any, *, options: Iterable[str] = ()) -> Edit:
    """Set one field and what it implies (choosing qlora sets a 4-bit base, say); `options` are the rules the person
    switched on (e.g. "alpha_follows_r"): without them, nothing follows r."""
    return apply_edits(config, {path: value}, options=options)


def method_choice(key: str) -> MethodChoice:
    for choice in METHODS:
        if choice.key == key:
            return choice
    raise ConfigError(f"Unknown method {key!r}; choose one of {', '.join(c.key for c in METHODS)}.")


def method_key(config: Mapping[str, Any]) -> str:
    """The method menu's entry for a config's method and quantization mode."""
    for choice in METHODS:
        if all(same(get_path(config, path), value) for path, value in choice.values.items()):
            return choice.key
    method, mode = get_path(config, "method.method"), get_path(config, "quantization.mode")
    raise ConfigError(
        f"method.method = {method!r} with quantization.mode = {mode!r} is not a combination that trains; "
        f"choose one of: {', '.join(c.label for c in METHODS)}."
    )


def choose_method(config: Mapping[str, Any], key: str, *, options: Iterable[str] = ()) -> Edit:
    """The method menu: set method and quantization together, with what that implies (e.g. head's fixed options)."""
    return apply_edits(config, method_choice(key).values, options=options)


def apply_option(config: Mapping[str, Any], option: str) -> Edit:
    """Switch on `option`: its couplings apply now, as if the fields they follow had just been edited."""
    if option not in OPTIONS:
        raise ConfigError(f"Unknown option {option!r}; known: {', '.join(OPTIONS)}.")
    data: Mapping[str, Any] = config
    changes: list[Change] = []
    for coupling in COUPLINGS:
        if coupling.option == option:
            edit = apply_edits(data, {coupling.on: get_path(data, coupling.on)}, options=[option])
            data, changes = edit.config, [*changes, *edit.changes]
    return Edit(copy.deepcopy(dict(data)), tuple(changes))


def options_in_force(config: Mapping[str, Any]) -> frozenset[str]:
    """Options whose rule the config already follows (alpha is 2 × r): a front-end shows them switched on."""
    return frozenset(
        name
        for name in OPTIONS
        if all(
            same(get_path(config, c.set), c.target(config))
            for c in COUPLINGS
            if c.option == name and all(w.holds(config) for w in c.when)
        )
    )


def relevance(config: Mapping[str, Any], path: str) -> str | None:
    """Why `path` does nothing with the rest of this config (a form greys it out or hides it), or None."""
    for condition in APPLIES_WHEN.get(path, ()):
        if not condition.holds(config):
            return f"{condition.why} ({condition.path} is {shown(get_path(config, condition.path))})"
    return None


def preset_values(name: str) -> dict[str, Any]:
    """What starting from a preset sets: all of its config but runs_dir, which says where runs go, not how."""
    values = preset(name).to_dict()
    del values["runs_dir"]
    return values


def start_from(config: Mapping[str, Any], name: str) -> Edit:
    """The preset `name` in place of `config`, keeping where runs are written."""
    if name not in PRESETS:
        raise ConfigError(f"Unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
    data = {**copy.deepcopy(dict(config)), **preset_values(name)}
    return Edit(data, headline=f"Started from preset {name!r}: {PRESET_HELP[name]}")


def set_from_command_line(config: RunConfig, pairs: list[str]) -> RunConfig:
    """`--set section.field=value` arguments as edits, with what each implies (``--set method.method=qlora`` also
    sets the 4-bit base), the way the panel and the sidebar apply them; what else changed goes to stderr as `note:`
    lines. Values are read as YAML scalars, top-level fields (name, runs_dir) as text."""
    edits = {path: (parse_scalar(v) if "." in path else v) for path, v in parse_overrides(pairs).items()}
    edit = apply_edits(config.to_dict(), edits)
    for note in edit.notes:
        print(f"note: {note}", file=sys.stderr)
    return RunConfig.from_dict(edit.config)
