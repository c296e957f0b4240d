"""LoRA target modules as checkboxes, named after the chosen model's real linear layers.

The checked set maps onto the config's preset when it is one (all-linear, attention, attention-qv) and onto
`custom` + `target_modules` otherwise, so what the YAML says is always what the checkboxes show.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as widgets

from ft_jupyter.config import TARGET_PRESETS, MethodConfig

ATTENTION = TARGET_PRESETS["attention"]


def preset_for(checked: list[str], available: list[str]) -> tuple[str, tuple[str, ...]]:
    """(target_preset, target_modules) for a set of checked module names."""
    chosen = set(checked)
    if (available and chosen == set(available)) or chosen == {"all-linear"}:
        return "all-linear", ()
    for name in ("attention", "attention-qv"):
        if chosen == set(TARGET_PRESETS[name]):
            return name, ()
    return "custom", tuple(n for n in available if n in chosen) + tuple(sorted(chosen - set(available)))


def checked_for(method: MethodConfig, available: list[str]) -> list[str]:
    """Which of `available` a method config selects (custom names the model lacks are kept, and shown)."""
    if method.target_preset == "all-linear":
        # Without the model's names (they could not be listed) the preset itself is the one box shown.
        return list(available) or ["all-linear"]
    return list(method.resolved_targets())


class TargetPicker:
    """Checkboxes for the model's linear modules plus the two usual presets as buttons."""

    def __init__(self, module_names: Callable[[str], list[str]], on_change: Callable[[], None]):
        self._module_names = module_names
        self._on_change = on_change
        self._model: str | None = None
        self._load_error = ""
        self._setting = False
        self.available: list[str] = []
        self.boxes: dict[str, widgets.Checkbox] = {}
        self.note = widgets.HTML()
        self.grid = widgets.HBox(layout={"flex_flow": "row wrap"})
        self.attention_button = widgets.Button(description="attention only", tooltip=", ".join(ATTENTION))
        self.all_button = widgets.Button(description="all linear", tooltip="every linear layer except the output head")
        self.attention_button.on_click(lambda _: self.select(ATTENTION))
        self.all_button.on_click(lambda _: self.select(self.available))
        self.widget = widgets.VBox([widgets.HBox([self.attention_button, self.all_button]), self.grid, self.note])
        self.widget.add_class("jp-ft-targets")

    def load_model(self, model: str) -> None:
        """Learn the module names of `model` (asked once per model name); `select` ticks them."""
        if model != self._model:
            self._model = model
            try:
                self.available = list(self._module_names(model))
                self._load_error = ""
            except Exception as exc:  # an unknown or unreachable model: say why, keep the preset buttons
                self.available = []
                self._load_error = f"Cannot list the layers of {model}: {exc}"

    def select(self, names, notify: bool = True) -> None:
        wanted = set(names)
        order = self.available + sorted(wanted - set(self.available))
        if list(self.boxes) != order:
            self.boxes = {
                name: widgets.Checkbox(description=name, indent=False, layout={"width": "130px"}) for name in order
            }
            for box in self.boxes.values():
                box.observe(lambda _: self._setting or self._on_change(), names="value")
            self.grid.children = list(self.boxes.values())
        self._setting = True
        for name, box in self.boxes.items():
            box.value = name in wanted
        self._setting = False
        missing = sorted(wanted - set(self.available))
        problem = self._load_error or (f"Not in this model: {', '.join(missing)}" if missing else "")
        self.note.value = f"<span style='color:#c62828'>{html.escape(problem)}</span>" if problem else ""
        if notify:
            self._on_change()

    @property
    def checked(self) -> list[str]:
        return [name for name, box in self.boxes.items() if box.value]

    def config_values(self) -> tuple[str, tuple[str, ...]]:
        return preset_for(self.checked, self.available)
