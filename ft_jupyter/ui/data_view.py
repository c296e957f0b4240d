"""The panel's data tab: a few rows as the model will see them, the validation/cleaning report, the masking view.

The rows come from the same `prepare` training uses; the report and the masking view come from `ft_jupyter.data`.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from ft_jupyter.config import RunConfig

PREVIEW_ROWS = 5


def _cell(text: str, limit: int = 240) -> str:
    text = text if len(text) <= limit else text[:limit] + "…"
    return html.escape(text).replace("\n", "<br>")


def rows_html(examples: list[Any], limit: int = PREVIEW_ROWS) -> str:
    """A table of the first training conversations: one column per role turn, the answer last."""
    if not examples:
        return "<i>No training rows.</i>"
    body = "".join(
        "<tr>"
        + "".join(
            f"<td style='vertical-align:top;padding:2px 6px'><b>{html.escape(m['role'])}</b>: "
            f"{_cell(m['content'])}</td>"
            for m in e.messages
        )
        + "</tr>"
        for e in examples[:limit]
    )
    return f"<table style='border-collapse:collapse;font-size:0.9em'>{body}</table>"


class DataView:
    def __init__(self, services: Any):
        self.services = services
        self.summary = widgets.HTML()
        self.rows = widgets.HTML()
        self.report = widgets.HTML()
        self.masking = widgets.HTML()
        self.row_index = widgets.BoundedIntText(value=0, min=0, max=0, description="row", layout={"width": "160px"})
        self.row_index.observe(lambda _: self._show_masking(), names="value")
        self.widget = widgets.VBox(
            [
                self.summary,
                widgets.HTML("<b>First training rows</b>"),
                self.rows,
                widgets.HTML("<b>Validation and cleaning report</b>"),
                self.report,
                widgets.HTML("<b>What the loss sees</b> (masking view of one training row)"),
                self.row_index,
                self.masking,
            ]
        )
        self.widget.add_class("jp-ft-data-view")
        self._config: RunConfig | None = None
        self._key: Any = None

    def update(self, config: RunConfig) -> None:
        self._config = config
        key = (config.model.name, config.data, config.training.seed, config.training.assistant_only_loss)
        if key != self._key:
            self._key = key
            try:
                data = self.services.prepared(config)
            except Exception as exc:  # a missing file, a malformed row: the message says where
                self.summary.value = f"<span style='color:#c62828'>{html.escape(str(exc))}</span>"
                self.rows.value = self.report.value = self.masking.value = ""
                return
            labels = f"; labels: {', '.join(data.labels)}" if data.labels else ""
            self.summary.value = html.escape(f"format {data.format}; splits {data.sizes()}{labels}")
            self.rows.value = rows_html(data.train)
            self.row_index.max = max(0, len(data.train) - 1)
            self.report.value = report_html(data, self._check_warnings(config))
        self._show_masking()  # depends on max_seq_len too, and costs one row

    def _check_warnings(self, config: RunConfig) -> tuple[str, ...]:
        try:
            return self.services.data_check(config).warnings
        except Exception as exc:
            return (f"The pre-training checks fail: {exc}",)

    def _show_masking(self) -> None:
        if self._config is None:
            return
        try:
            self.masking.value = self.services.masking_html(self._config, self.row_index.value)
        except Exception as exc:
            self.masking.value = f"<span style='color:#c62828'>No masking view: {html.escape(str(exc))}</span>"


def report_html(data: Any, check_warnings: tuple[str, ...]) -> str:
    """Rows skipped by validation, the cleaning report, and what training would warn about."""
    from ft_jupyter.data.problems import problems_table

    parts = []
    if data.problems:
        parts.append(
            f"<b style='color:#c62828'>{len(data.problems)} rows skipped by validation</b>"
            f"<pre>{html.escape(problems_table(list(data.problems), limit=10))}</pre>"
        )
    if data.report is not None:
        parts.append(f"<pre style='font-size:0.85em'>{html.escape(data.report.to_text())}</pre>")
    warnings = list(dict.fromkeys([*data.warnings, *check_warnings]))
    if warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
        parts.append(f"<ul style='color:#e65100'>{items}</ul>")
    return "".join(parts) or "<i>No problems found.</i>"
