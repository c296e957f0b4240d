"""The configuration panel: edits a RunConfig with every setting's help and effect on screen, and hands it back.

`panel.config` is always the last valid config. A value the config refuses shows its error above the tabs instead
of raising, and the previews keep showing the last valid state until it is fixed. What an edit implies (QLoRA sets a
4-bit base), which fields apply, and which come first are the config's (`config/form.py`); the panel only lays
them out in tabs and shows what each edit changed besides.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ft_jupyter.config import ConfigError, MethodConfig, RunConfig, field_help
from ft_jupyter.config.codegen import config_to_code
from ft_jupyter.config.form import (
    Edit,
    apply_edit,
    apply_option,
    choose_method,
    method_choice,
    method_key,
    options_in_force,
    relevance,
    start_from,
)
from ft_jupyter.config.presets import PRESET_HELP, PRESETS
from ft_jupyter.config.semantics import KEY_FIELDS, METHODS, OPTIONS
from ft_jupyter.ui.controls import INPUT_WIDTH, FieldControl, build_controls, labelled_row
from ft_jupyter.ui.data_view import DataView
from ft_jupyter.ui.preflight import PreflightStrip
from ft_jupyter.ui.previews import LearningRatePreview, LengthPreview
from ft_jupyter.ui.services import PanelServices
from ft_jupyter.ui.targets import TargetPicker, checked_for

_TOP = ("name", "runs_dir")
# Tabs hold sections: in each, the config's key fields in its order, the rest under "more settings". The panel's own
# widgets ("@...") stand in for fields, or follow one, or close a tab.
TABS = {"Model": ("model", "quantization"), "LoRA": ("method",), "Training": ("training",), "Data": ("data",)}
STANDS_FOR = {
    "method.method": "@method",  # the method menu: method.method and quantization.mode together
    "quantization.mode": "@method",
    "method.target_preset": "@targets",
    "method.target_modules": "@targets",
}
FOLLOWS = {"training.grad_accum": "@effective_batch", **{o.field: f"@option:{n}" for n, o in OPTIONS.items()}}
CLOSES = {"Training": "@previews", "Data": "@data_view"}
_SPECIAL = set(STANDS_FOR)


def tab_keys(tab: str) -> list[str]:
    """The key fields and own widgets of a tab, in order."""
    keys: list[str] = []
    for path in KEY_FIELDS:
        if path.split(".")[0] not in TABS[tab]:
            continue
        keys.append(STANDS_FOR.get(path, path))
        if path in FOLLOWS:
            keys.append(FOLLOWS[path])
    if tab in CLOSES:
        keys.append(CLOSES[tab])
    return list(dict.fromkeys(keys))


class ConfigPanel:
    """Show with `display(panel)` (or as a cell's last line); read `panel.config`."""

    def __init__(self, config: RunConfig | None = None, *, services: PanelServices | None = None):
        self.services = services or PanelServices()
        self.config = config or RunConfig()
        self.error: str | None = None
        self._syncing = False
        self._listeners: list[Callable[[RunConfig], None]] = []
        helps = field_help()
        self.controls: dict[str, FieldControl] = build_controls(_SPECIAL, self.services.suggestions())
        self.controls["model.name"].widget.layout.width = "420px"  # hub ids are long: meta-llama/Llama-3.2-1B-…
        self.top = {key: widgets.Text(continuous_update=False, layout={"width": INPUT_WIDTH}) for key in _TOP}
        self.method = widgets.Dropdown(
            options=[(choice.label, choice.key) for choice in METHODS], layout={"width": INPUT_WIDTH}
        )
        self.start = widgets.Dropdown(
            options=[("(choose a preset)", ""), *((name, name) for name in PRESETS)], layout={"width": INPUT_WIDTH}
        )
        self.options = {
            name: widgets.Checkbox(description=option.label, indent=False, tooltip=option.help)
            for name, option in OPTIONS.items()
        }
        self.effective_batch = widgets.HTML()
        self.targets = TargetPicker(self.services.module_names, self._changed)
        self.lr_preview = LearningRatePreview(self.services.total_steps)
        self.lengths = LengthPreview(lambda config: self.services.data_check(config).stats)
        self.preflight = PreflightStrip(self.services.estimate)
        self.data_view = DataView(self.services)
        self.error_box = widgets.HTML()
        self.error_box.add_class("jp-ft-config-error")
        self.notes = widgets.HTML()
        self.notes.add_class("jp-ft-config-notes")
        self.code = widgets.Textarea(layout={"width": "100%", "height": "260px", "display": "none"})
        self.code.add_class("jp-ft-config-code")
        self._code_kind = ""
        self.widget = self._layout(helps)
        for control in self.controls.values():
            control.observe(self._changed)
        for w in (*self.top.values(), self.method, *self.options.values()):
            w.observe(self._changed, names="value")
        self.start.observe(self._start_from, names="value")
        self.set_config(self.config)

    # ---- layout -------------------------------------------------------------------------------------------------
    def _own_widgets(self, helps: dict[str, dict[str, str]]) -> dict[str, widgets.Widget]:
        own = {
            "@method": labelled_row(
                "method", self.method, helps["method"]["method"] + " " + helps["quantization"]["mode"], "method.method"
            ),
            "@targets": labelled_row(
                "target modules", self.targets.widget, helps["method"]["target_preset"], "method.target_modules"
            ),
            "@effective_batch": self.effective_batch,
            "@previews": widgets.HBox([self.lr_preview.widget, self.lengths.widget]),
            "@data_view": self.data_view.widget,
        }
        for name, box in self.options.items():
            own[f"@option:{name}"] = labelled_row("", box, OPTIONS[name].help, name.replace("_", "-"))
        return own

    def _layout(self, helps: dict[str, dict[str, str]]) -> widgets.VBox:
        own = self._own_widgets(helps)
        placed: set[str] = set()
        pages = []
        for tab, sections in TABS.items():
            keys = [k for k in tab_keys(tab) if k not in placed and (k in own or k in self.controls)]
            placed.update(keys)
            rows = [own[k] if k in own else self.controls[k].row for k in keys]
            more = [c.row for k, c in self.controls.items() if k not in KEY_FIELDS and k.split(".")[0] in sections]
            if more:
                accordion = widgets.Accordion(children=[widgets.VBox(more)], titles=("more settings",))
                accordion.selected_index = None
                rows.append(accordion)
            pages.append(widgets.VBox(rows))
        run_rows = [labelled_row(key, self.top[key], helps[""][key], key) for key in _TOP]
        pages.append(widgets.VBox(run_rows))
        tabs = widgets.Tab(children=pages, titles=(*TABS, "Run"))
        start = labelled_row(
            "start from",
            self.start,
            "Replace every setting with a preset's (the runs folder stays); "
            + "; ".join(f"{name}: {PRESET_HELP[name]}" for name in PRESETS),
            "start-from",
        )
        box = widgets.VBox([start, self.preflight.widget, self.error_box, self.notes, tabs, self._actions(), self.code])
        box.add_class("jp-ft-config-panel")
        return box

    def _actions(self) -> widgets.HBox:
        show_code = widgets.Button(description="Show as code", icon="code")
        show_yaml = widgets.Button(description="Show as YAML", icon="file-text")
        eject = widgets.Button(
            description="Eject to TRL",
            icon="share-square",
            tooltip="Write this config as a plain TRL script, with its data and accelerate "
            "configs, to ejected-<name>/ beside the runs folder",
        )
        show_code.on_click(lambda _: self.toggle_code("python"))
        show_yaml.on_click(lambda _: self.toggle_code("yaml"))
        eject.on_click(lambda _: self.eject())
        return widgets.HBox([show_code, eject, show_yaml])

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    # ---- config -> widgets --------------------------------------------------------------------------------------
    def set_config(self, config: RunConfig) -> None:
        """Show `config` in every control (e.g. a preset or a loaded YAML file)."""
        data = config.to_dict()
        self._syncing = True
        try:
            self._show(data)
            self._load_targets(config.model.name, config.method)
            in_force = options_in_force(data)
            for name, box in self.options.items():
                box.value = name in in_force
        finally:
            self._syncing = False
        self._changed()

    def _show(self, data: dict[str, Any]) -> None:
        """Every control but the target picker (its values never change by an edit elsewhere)."""
        for key, control in self.controls.items():
            section, name = key.split(".")
            control.value = data[section][name]
        for key in _TOP:
            self.top[key].value = data[key]
        self.method.value = method_key(data)

    def _load_targets(self, model: str, method: MethodConfig) -> None:
        """Show the model's modules, ticked as `method` says (all-linear stays all-linear on a new model)."""
        self.targets.load_model(model)
        self.targets.select(checked_for(method, self.targets.available), notify=False)

    def _start_from(self, change: dict) -> None:
        if self._syncing or not change["new"]:
            return
        edit = start_from(self._collect(), change["new"])
        self._syncing = True
        try:
            self.start.value = ""  # a menu of actions: the notes say which preset was taken
        finally:
            self._syncing = False
        self.set_config(RunConfig.from_dict(edit.config))
        self._show_notes(edit)

    # ---- widgets -> config --------------------------------------------------------------------------------------
    def _changed(self, change: dict | None = None) -> None:
        if self._syncing:
            return
        edit = self._edit(change, self._collect())
        self._syncing = True
        try:
            if edit.changes:
                self._show(edit.config)
            self._follow_model(change)
        finally:
            self._syncing = False
        self._show_notes(edit)
        self._update_visibility(edit.config)
        try:
            config = RunConfig.from_dict(edit.config)
        except ConfigError as exc:
            self.error = str(exc)
            self.error_box.value = (
                "<div style='color:#c62828;border-left:4px solid #c62828;padding:2px 8px'>"
                f"<b>Not applied:</b> {html.escape(str(exc))}<br><small>panel.config keeps "
                "the last valid settings until this is fixed.</small></div>"
            )
            return
        self.error, self.error_box.value = None, ""
        self.config = config
        self._refresh()
        for listener in self._listeners:
            listener(config)

    def _edit(self, change: dict | None, data: dict[str, Any]) -> Edit:
        """The edit a widget's change makes, with what the config says it implies."""
        owner = change.get("owner") if change else None
        on = [name for name, box in self.options.items() if box.value]
        if owner is self.method:
            return choose_method(data, self.method.value, options=on)
        for name, box in self.options.items():
            if owner is box:
                return apply_option(data, name) if box.value else Edit(data)
        for key, control in self.controls.items():
            if owner is control.widget:
                section, name = key.split(".")
                return apply_edit(data, key, data[section][name], options=on)
        return Edit(data)

    def _follow_model(self, change: dict | None) -> None:
        model = self.controls["model.name"]
        if change is not None and change.get("owner") is model.widget:
            self._load_targets(model.value, self.config.method)

    def _show_notes(self, edit: Edit) -> None:
        items = "".join(f"<li>{html.escape(note)}</li>" for note in edit.notes)
        self.notes.value = f"<ul style='color:#546e7a;margin:2px 0'>{items}</ul>" if items else ""

    def _collect(self) -> dict[str, Any]:
        data = self.config.to_dict()
        for key, control in self.controls.items():
            section, name = key.split(".")
            data[section][name] = control.value
        for key in _TOP:
            data[key] = self.top[key].value
        choice = method_choice(self.method.value)
        data["method"]["method"], data["quantization"]["mode"] = choice.method, choice.quantization
        preset, modules = self.targets.config_values()
        data["method"]["target_preset"], data["method"]["target_modules"] = preset, list(modules)
        return data

    def _update_visibility(self, data: dict[str, Any]) -> None:
        """Show only the fields that do something with this config; an option's field follows its rule."""
        for key, control in self.controls.items():
            control.show(relevance(data, key) is None)
        self.targets.widget.layout.display = None if relevance(data, "method.target_preset") is None else "none"
        for name, box in self.options.items():
            field = OPTIONS[name].field
            box.layout.display = None if relevance(data, field) is None else "none"
            self.controls[field].widget.disabled = box.value

    # ---- what follows from a valid config ----------------------------------------------------------------------
    def _refresh(self) -> None:
        t = self.config.training
        steps_note = "max_steps is set, so epochs is ignored" if t.max_steps > 0 else "training runs for `epochs`"
        self.effective_batch.value = (
            f"<b>effective batch</b> = batch_size {t.batch_size} × grad_accum "
            f"{t.grad_accum} = <b>{t.effective_batch}</b> rows per optimizer step "
            f"<span style='color:#546e7a'>({steps_note})</span>"
        )
        self.lr_preview.update(self.config)
        self.lengths.update(self.config)
        self.preflight.update(self.config)
        self.data_view.update(self.config)
        if self._code_kind in ("python", "yaml"):  # an ejected script stays as written until ejected again
            self._show_code()

    def on_change(self, callback: Callable[[RunConfig], None]) -> None:
        """Call `callback(config)` after every change that gives a valid config."""
        self._listeners.append(callback)

    # ---- show as code / YAML ------------------------------------------------------------------------------------
    def toggle_code(self, kind: str) -> None:
        self._code_kind = "" if self._code_kind == kind else kind
        self.code.layout.display = None if self._code_kind else "none"
        if self._code_kind:
            self._show_code()

    def _show_code(self) -> None:
        self.code.value = config_to_code(self.config) if self._code_kind == "python" else self.config.to_yaml()

    def eject(self) -> Path | None:
        """Write the config as a plain TRL project to `ejected-<name>/` beside the runs folder (replacing an earlier
        one) and show its train.py; returns the folder, or None if the config cannot be ejected (the view says why)."""
        from ft_jupyter.train.eject import eject

        folder = Path(self.config.runs_dir).parent / f"ejected-{self.config.name}"
        self._code_kind = "eject"
        self.code.layout.display = None
        self.code.value = f"# Writing {folder} ..."
        try:
            result = eject(self.config, folder, overwrite=True)
        except ConfigError as exc:
            self.code.value = f"# Could not eject this config: {exc}"
            return None
        extras = "".join(f"#   - {line}\n" for line in result.extras_not_included) or "#   none\n"
        self.code.value = (
            f"# Written to {result.folder}: run `python train.py` there; README.md shows launches on "
            f"several processes.\n# Kit extras this config uses that the script lacks:\n{extras}\n"
            + (result.folder / "train.py").read_text(encoding="utf-8")
        )
        return result.folder
