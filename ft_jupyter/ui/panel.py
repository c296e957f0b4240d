"""The configuration panel: edits a RunConfig with every setting's help and effect on screen, and hands it back.

`panel.config` is always the last valid config. A value the config refuses shows its error above the tabs instead
of raising, and the previews keep showing the last valid state until it is fixed.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ft_jupyter.config import ConfigError, MethodConfig, RunConfig, field_help
from ft_jupyter.config.codegen import config_to_code
from ft_jupyter.ui.controls import FieldControl, build_controls, labelled_row
from ft_jupyter.ui.data_view import DataView
from ft_jupyter.ui.preflight import PreflightStrip
from ft_jupyter.ui.previews import LearningRatePreview, LengthPreview
from ft_jupyter.ui.services import PanelServices
from ft_jupyter.ui.targets import TargetPicker, checked_for

# The method menu covers method.method and quantization.mode together: "8-bit" is LoRA on an 8-bit base.
METHODS = {
    "lora": ("LoRA", "lora", "none"),
    "qlora": ("QLoRA (4-bit base)", "qlora", "4bit"),
    "lora-8bit": ("LoRA on an 8-bit base", "lora", "8bit"),
    "full": ("Full fine-tuning", "full", "none"),
    "freeze": ("Freeze: train the top blocks / head", "freeze", "none"),
    "head": ("Classification head on the frozen backbone (label data)", "head", "none"),
}
_SPECIAL = {"method.method", "quantization.mode", "method.target_preset", "method.target_modules"}
_TOP = ("name", "runs_dir")
# Where a field is shown ("@..." are the panel's own widgets); any field not listed here (a new one) appears
# under its tab's "more settings".
LAYOUT = {
    "Model": [
        "model.name",
        "@method",
        "quantization.quant_type",
        "quantization.double_quant",
        "quantization.compute_dtype",
        "model.dtype",
    ],
    "LoRA": [
        "method.r",
        "method.alpha",
        "@alpha_rule",
        "method.dropout",
        "@targets",
        "method.bias",
        "method.use_rslora",
        "method.use_dora",
        "method.freeze_train_blocks",
        "method.freeze_train_head",
    ],
    "Training": [
        "training.learning_rate",
        "training.epochs",
        "training.max_steps",
        "training.batch_size",
        "training.grad_accum",
        "@effective_batch",
        "training.scheduler",
        "training.warmup_ratio",
        "training.decay_ratio",
        "training.max_seq_len",
        "@previews",
    ],
    "Data": [
        "data.dataset",
        "data.format",
        "data.max_rows",
        "data.validation_fraction",
        "data.test_fraction",
        "data.instruction",
        "data.system_prompt",
        "@data_view",
    ],
}
_TAB_OF_SECTION = {"model": "Model", "quantization": "Model", "method": "LoRA", "training": "Training", "data": "Data"}


def method_key(config: RunConfig) -> str:
    for key, (_, method, mode) in METHODS.items():
        if (config.method.method, config.quantization.mode) == (method, mode):
            return key
    raise ConfigError(
        f"method {config.method.method!r} with quantization {config.quantization.mode!r} has no "
        "entry in the panel's method menu."
    )


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
        self.top = {key: widgets.Text(continuous_update=False, layout={"width": "260px"}) for key in _TOP}
        self.method = widgets.Dropdown(
            options=[(label, key) for key, (label, _, _) in METHODS.items()], layout={"width": "260px"}
        )
        self.alpha_rule = widgets.Checkbox(
            description="keep alpha = 2 × r",
            indent=False,
            tooltip="A common starting point, not a rule: untick to set alpha freely.",
        )
        self.effective_batch = widgets.HTML()
        self.targets = TargetPicker(self.services.module_names, self._changed)
        self.lr_preview = LearningRatePreview(self.services.total_steps)
        self.lengths = LengthPreview(lambda config: self.services.data_check(config).stats)
        self.preflight = PreflightStrip(self.services.estimate)
        self.data_view = DataView(self.services)
        self.error_box = widgets.HTML()
        self.error_box.add_class("jp-ft-config-error")
        self.code = widgets.Textarea(layout={"width": "100%", "height": "260px", "display": "none"})
        self.code.add_class("jp-ft-config-code")
        self._code_kind = ""
        self.widget = self._layout(helps)
        for control in self.controls.values():
            control.observe(self._changed)
        for w in (*self.top.values(), self.method, self.alpha_rule):
            w.observe(self._changed, names="value")
        self.set_config(self.config)

    # ---- layout -------------------------------------------------------------------------------------------------
    def _layout(self, helps: dict[str, dict[str, str]]) -> widgets.VBox:
        own = {
            "@method": labelled_row(
                "method", self.method, helps["method"]["method"] + " " + helps["quantization"]["mode"], "method.method"
            ),
            "@alpha_rule": labelled_row(
                "",
                self.alpha_rule,
                "alpha/r scales the update; alpha = 2×r keeps that scale at 2 whatever the rank.",
                "alpha-rule",
            ),
            "@targets": labelled_row(
                "target modules", self.targets.widget, helps["method"]["target_preset"], "method.target_modules"
            ),
            "@effective_batch": self.effective_batch,
            "@previews": widgets.HBox([self.lr_preview.widget, self.lengths.widget]),
            "@data_view": self.data_view.widget,
        }
        placed = {key for keys in LAYOUT.values() for key in keys}
        pages = []
        for tab, keys in LAYOUT.items():
            rows = [own[k] if k in own else self.controls[k].row for k in keys if k in own or k in self.controls]
            more = [
                c.row for k, c in self.controls.items() if k not in placed and _TAB_OF_SECTION[k.split(".")[0]] == tab
            ]
            if more:
                accordion = widgets.Accordion(children=[widgets.VBox(more)], titles=("more settings",))
                accordion.selected_index = None
                rows.append(accordion)
            pages.append(widgets.VBox(rows))
        run_rows = [labelled_row(key, self.top[key], helps[""][key], key) for key in _TOP]
        pages.append(widgets.VBox(run_rows))
        tabs = widgets.Tab(children=pages, titles=(*LAYOUT, "Run"))
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
        box = widgets.VBox(
            [self.preflight.widget, self.error_box, tabs, widgets.HBox([show_code, eject, show_yaml]), self.code]
        )
        box.add_class("jp-ft-config-panel")
        return box

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    # ---- config -> widgets --------------------------------------------------------------------------------------
    def set_config(self, config: RunConfig) -> None:
        """Show `config` in every control (e.g. a preset or a loaded YAML file)."""
        self._syncing = True
        try:
            data = config.to_dict()
            for key, control in self.controls.items():
                section, name = key.split(".")
                control.value = data[section][name]
            for key in _TOP:
                self.top[key].value = data[key]
            self.method.value = method_key(config)
            self.alpha_rule.value = config.method.alpha == 2 * config.method.r
            self._load_targets(config.model.name, config.method)
        finally:
            self._syncing = False
        self._changed()

    def _load_targets(self, model: str, method: MethodConfig) -> None:
        """Show the model's modules, ticked as `method` says (all-linear stays all-linear on a new model)."""
        self.targets.load_model(model)
        self.targets.select(checked_for(method, self.targets.available), notify=False)

    # ---- widgets -> config --------------------------------------------------------------------------------------
    def _changed(self, change: dict | None = None) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self._apply_rules(change)
        finally:
            self._syncing = False
        self._update_visibility()
        try:
            config = RunConfig.from_dict(self._collect())
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

    def _apply_rules(self, change: dict | None) -> None:
        r, alpha = self.controls["method.r"], self.controls["method.alpha"]
        alpha.widget.disabled = self.alpha_rule.value
        if self.alpha_rule.value:
            alpha.value = 2 * r.value
        model = self.controls["model.name"]
        if change is not None and change.get("owner") is model.widget:
            self._load_targets(model.value, self.config.method)

    def _collect(self) -> dict[str, Any]:
        data = self.config.to_dict()
        for key, control in self.controls.items():
            section, name = key.split(".")
            data[section][name] = control.value
        for key in _TOP:
            data[key] = self.top[key].value
        _, method, mode = METHODS[self.method.value]
        data["method"]["method"], data["quantization"]["mode"] = method, mode
        preset, modules = self.targets.config_values()
        data["method"]["target_preset"], data["method"]["target_modules"] = preset, list(modules)
        return data

    def _update_visibility(self) -> None:
        key = self.method.value
        uses_lora = key in ("lora", "qlora", "lora-8bit")
        for name in ("quant_type", "double_quant", "compute_dtype"):
            self.controls[f"quantization.{name}"].show(key == "qlora")
        for name in ("r", "alpha", "dropout", "bias", "use_rslora", "use_dora"):
            self.controls[f"method.{name}"].show(uses_lora)
        self.alpha_rule.layout.display = None if uses_lora else "none"
        self.targets.widget.layout.display = None if uses_lora else "none"
        self.controls["method.freeze_train_blocks"].show(key in ("freeze", "head"))
        self.controls["method.freeze_train_head"].show(key == "freeze")
        self.controls["training.decay_ratio"].show(self.controls["training.scheduler"].value == "wsd")

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
