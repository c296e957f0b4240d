"""The pre-flight strip: trainable parameters, memory breakdown, which GPUs it fits, and lint warnings.

It is redrawn on every valid change from `models.estimate.estimate_run`, which works from the config and the
model's config.json alone (no weights are loaded), so a learner sees the effect of a rank or a quantization choice
before starting anything.
"""

from __future__ import annotations

import html
from typing import Any, Callable

import ipywidgets as widgets

from ft_jupyter.config import RunConfig

GIB = 2**30


def _count(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return str(n)


def preflight_html(estimate: dict[str, Any]) -> str:
    """The strip's content from `RunEstimate.to_json()`."""
    trainable = (f"<span class='jp-ft-trainable' data-trainable='{estimate['params_trainable']}'><b>"
                 f"{_count(estimate['params_trainable'])}</b> of {_count(estimate['params_total'])} parameters "
                 f"train ({estimate['trainable_percent']:.2f}%)</span>")
    memory = estimate["memory"]
    terms = " · ".join(f"{html.escape(name.replace('_', ' '))} {value / GIB:.2f}"
                       for name, value in memory.items() if name != "total_bytes" and isinstance(value, (int, float))
                       and value)
    mem = f"memory ≈ <b>{memory['total_bytes'] / GIB:.2f} GiB</b> <span style='color:#546e7a'>({terms} GiB)</span>"
    fits = " ".join(
        f"<span style='color:{'#2e7d32' if g['fits'] else '#c62828'}'>{'✓' if g['fits'] else '✗'} "
        f"{html.escape(g['name'])}</span>" for g in estimate["gpu_fit"])
    warnings = "".join(f"<li>{html.escape(str(w))}</li>" for w in estimate["warnings"])
    warn = f"<ul style='margin:2px 0;color:#e65100'>{warnings}</ul>" if warnings else ""
    return (f"<div style='background:#f5f7fa;border:1px solid #cfd8dc;border-radius:4px;padding:4px 8px'>"
            f"{trainable} &nbsp;|&nbsp; {mem}<br>fits: {fits}{warn}</div>")


class PreflightStrip:
    def __init__(self, estimate: Callable[[RunConfig], Any]):
        self._estimate = estimate
        self.widget = widgets.HTML("<i>estimating…</i>")
        self.widget.add_class("jp-ft-preflight")
        self.estimate: dict[str, Any] | None = None

    def update(self, config: RunConfig) -> None:
        try:
            self.estimate = self._estimate(config).to_json()
        except Exception as exc:  # e.g. a hub model that is not cached: say so, keep the panel usable
            self.estimate = None
            self.widget.value = (f"<div style='color:#c62828'>No estimate for this config: "
                                 f"{html.escape(str(exc))}</div>")
            return
        self.widget.value = preflight_html(self.estimate)
