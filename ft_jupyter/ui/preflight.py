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
    terms = " + ".join(f"<span title='{html.escape(t['formula'], quote=True)}'>{html.escape(t['name'])} "
                       f"{_size(t['bytes'])}</span>" for t in memory["terms"] if t["bytes"])
    where = "a GPU" if memory["device"] == "cuda" else memory["device"].upper()
    mem = (f"memory on {where} ({memory['precision']}, batch {memory['batch_size']} × {memory['seq_len']} tokens) "
           f"≈ <b>{_size(memory['total_bytes'])}</b> <span style='color:#546e7a'>= {terms}</span>")
    fits = " ".join(
        f"<span style='color:{_fit_colour(g)}' title='headroom {g['headroom_gib']:+.1f} GiB'>"
        f"{'✓' if g['fits'] else '✗'} {html.escape(g['name'])}</span>" for g in estimate["gpu_fit"])
    warnings = "".join(f"<li>{html.escape(str(w))}</li>" for w in estimate["warnings"])
    warn = f"<ul style='margin:2px 0;color:#e65100'>{warnings}</ul>" if warnings else ""
    return (f"<div style='background:#f5f7fa;border:1px solid #cfd8dc;border-radius:4px;padding:4px 8px'>"
            f"{trainable}<br>{mem}<br>fits: {fits}{warn}</div>")


def _size(n: int) -> str:
    return f"{n / GIB:.2f} GiB" if n >= GIB / 10 else f"{n / 2**20:.1f} MiB"


def _fit_colour(gpu: dict[str, Any]) -> str:
    if not gpu["fits"]:
        return "#c62828"
    return "#ef6c00" if gpu.get("tight") else "#2e7d32"


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
