"""One widget per config field, built from the field's declaration: its type, choices and help text.

A field added to `config/sections.py` gets a control (with its help shown beside it) without any change here.
"""

from __future__ import annotations

import dataclasses
import html
import typing
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ft_jupyter.config import SECTIONS

LABEL_WIDTH = "170px"
INPUT_WIDTH = "260px"


def field_kind(hint: Any) -> tuple[type, bool]:
    """(scalar type, optional?) of an annotation such as `int`, `str | None` or `tuple[str, ...]`."""
    args = typing.get_args(hint)
    optional = type(None) in args
    inner = next(a for a in args if a is not type(None)) if optional else hint
    return (tuple if typing.get_origin(inner) is tuple else inner), optional


def help_html(text: str) -> widgets.HTML:
    box = widgets.HTML(
        f"<span style='color:#546e7a;font-size:0.9em;line-height:1.25'>{html.escape(text)}</span>",
        layout={"flex": "1 1 auto", "margin": "0 0 0 12px"},
    )
    box.add_class("jp-ft-help")
    return box


def labelled_row(label: str, widget: widgets.Widget, help_text: str, key: str = "") -> widgets.HBox:
    """[label] [input] [help text], the layout every control uses so help is always on screen."""
    name = widgets.HTML(f"<b>{html.escape(label)}</b>", layout={"width": LABEL_WIDTH, "min_width": LABEL_WIDTH})
    if help_text and not isinstance(widget, widgets.Box):  # boxes have no tooltip in the browser
        widget.tooltip = help_text
    row = widgets.HBox([name, widget, help_html(help_text)], layout={"align_items": "center", "margin": "1px 0"})
    row.add_class("jp-ft-field")
    if key:
        row.add_class("jp-ft-field-" + key.replace(".", "-").replace("_", "-"))
    return row


class FieldControl:
    """A widget bound to one `section.field`; `value` is what the config gets, in the field's type."""

    def __init__(self, key: str, field: dataclasses.Field, hint: Any, suggestions: list[str] | None = None):
        self.key = key
        self.kind, self.optional = field_kind(hint)
        self.choices = field.metadata.get("choices")
        self.help = field.metadata.get("help", "")
        self.widget = self._make_widget(suggestions)
        self.row = labelled_row(key.split(".")[1], self.widget, self.help, key)

    def _make_widget(self, suggestions: list[str] | None) -> widgets.ValueWidget:
        layout = {"width": INPUT_WIDTH}
        if suggestions is not None:  # known names offered, anything else may be typed
            return widgets.Combobox(options=suggestions, ensure_option=False, layout=layout, continuous_update=False)
        if self.choices:
            return widgets.Dropdown(options=list(self.choices), layout=layout)
        if self.kind is bool:
            return widgets.Checkbox(indent=False, layout={"width": INPUT_WIDTH})
        if self.kind is int:
            return widgets.IntText(layout=layout, continuous_update=False)
        if self.kind is float:
            return widgets.FloatText(layout=layout, continuous_update=False)
        # Text and lists (comma-separated) alike; the config coerces and validates what is typed.
        return widgets.Text(layout=layout, continuous_update=False)

    @property
    def value(self) -> Any:
        raw = self.widget.value
        if self.kind is tuple:
            return [part.strip() for part in raw.split(",") if part.strip()]
        if self.kind is str and self.optional and not raw.strip():
            return None
        return raw

    @value.setter
    def value(self, value: Any) -> None:
        if self.kind is tuple:
            value = ", ".join(value)
        elif value is None:
            value = ""
        self.widget.value = value

    def observe(self, callback: Callable[[dict], None]) -> None:
        self.widget.observe(callback, names="value")

    def show(self, visible: bool) -> None:
        self.row.layout.display = None if visible else "none"


def build_controls(skip: set[str], suggestions: dict[str, list[str]]) -> dict[str, FieldControl]:
    """A FieldControl for every config field except the dotted keys in `skip` (those get special widgets);
    `suggestions` turns a text field into a combobox offering those names."""
    controls: dict[str, FieldControl] = {}
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            key = f"{section}.{f.name}"
            if key not in skip:
                controls[key] = FieldControl(key, f, hints[f.name], suggestions.get(key))
    return controls
