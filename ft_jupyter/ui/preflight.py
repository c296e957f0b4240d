"""The pre-flight strip: trainable parameters, memory breakdown, which GPUs it fits, time and cost, lint warnings.

It is redrawn on every valid change from `models.estimate.estimate_run`, which works from the config and the
model's config.json alone (no weights are loaded), so a learner sees the effect of a rank or a quantization choice
before starting anything. Its own controls ask "on how many GPUs, split how, forecast on which GPU"; they are not
part of the run config, so they never change what trains.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ft_jupyter.config import RunConfig

GIB = 2**30
STRATEGY_OPTIONS = (
    ("DDP (replicate)", "ddp"),
    ("ZeRO-1", "zero1"),
    ("ZeRO-2", "zero2"),
    ("ZeRO-3", "zero3"),
    ("FSDP full shard", "fsdp"),
)


def _count(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return str(n)


def preflight_html(estimate: dict[str, Any]) -> str:
    """The strip's content from `RunEstimate.to_json()`, with the server's `forecast` / `forecast_error` keys."""
    trainable = (
        f"<span class='jp-ft-trainable' data-trainable='{estimate['params_trainable']}'><b>"
        f"{_count(estimate['params_trainable'])}</b> of {_count(estimate['params_total'])} parameters "
        f"train ({estimate['trainable_percent']:.2f}%)</span>"
    )
    memory, sharding = estimate["memory"], estimate.get("sharding")
    terms = " + ".join(
        f"<span title='{html.escape(t['formula'], quote=True)}'>{html.escape(t['name'])} {_size(t['bytes'])}</span>"
        for t in memory["terms"]
        if t["bytes"]
    )
    where = "a GPU" if memory["device"] == "cuda" else memory["device"].upper()
    if sharding:
        where = "each GPU" if memory["device"] == "cuda" else "each process"
    mem = (
        f"memory on {where} ({memory['precision']}, batch {memory['batch_size']} × {memory['seq_len']} tokens) "
        f"≈ <b>{_size(memory['total_bytes'])}</b> <span style='color:#546e7a'>= {terms}</span>"
    )
    fits = " ".join(
        f"<span style='color:{_fit_colour(g)}' title='headroom {g['headroom_gib']:+.1f} GiB'>"
        f"{'✓' if g['fits'] else '✗'} {html.escape(g['name'])}</span>"
        for g in estimate["gpu_fit"]
    )
    warnings = "".join(f"<li>{html.escape(str(w))}</li>" for w in estimate["warnings"])
    warn = f"<ul style='margin:2px 0;color:#e65100'>{warnings}</ul>" if warnings else ""
    extra = _split_line(sharding) + _forecast_line(estimate)
    return (
        f"<div style='background:#f5f7fa;border:1px solid #cfd8dc;border-radius:4px;padding:4px 8px'>"
        f"{trainable}<br>{mem}<br>fits: {fits}{extra}{warn}</div>"
    )


def _split_line(sharding: dict[str, Any] | None) -> str:
    """ "GPUs × strategy", shown only when the run is spread over several GPUs."""
    if not sharding or sharding["gpus"] < 2:
        return ""
    parts = [f"one GPU alone {_size(sharding['single_gpu_total_bytes'])}"]
    if sharding["cpu_terms"]:
        parts.append(f"CPU RAM {_size(sharding['cpu_bytes_all_processes'])} for all processes")
    talk = sharding["communication"]
    if talk:
        parts.append(
            f"<span title='{html.escape(talk['formula'] + ' — ' + talk['sentence'], quote=True)}'>"
            f"{_size(talk['bytes_per_step'])} sent per GPU per step</span>"
        )
    return (
        f"<br><span class='jp-ft-preflight-split'><b>{sharding['gpus']} GPUs × "
        f"{html.escape(sharding['label'])}</b> <span style='color:#546e7a'>({'; '.join(parts)})</span></span>"
    )


def _forecast_line(estimate: dict[str, Any]) -> str:
    forecast = estimate.get("forecast")
    if forecast:
        how = "\n".join([forecast["tokens_text"], *forecast["how"], *forecast["notes"]])
        return (
            f"<br><span class='jp-ft-preflight-forecast' title='{html.escape(how, quote=True)}'>time and cost "
            f"{html.escape(forecast['headline'])}</span>"
        )
    if estimate.get("forecast_error"):
        return (
            f"<br><span class='jp-ft-preflight-forecast' style='color:#546e7a'>no forecast: "
            f"{html.escape(estimate['forecast_error'])}</span>"
        )
    return ""


def _size(n: int) -> str:
    return f"{n / GIB:.2f} GiB" if n >= GIB / 10 else f"{n / 2**20:.1f} MiB"


def _fit_colour(gpu: dict[str, Any]) -> str:
    if not gpu["fits"]:
        return "#c62828"
    return "#ef6c00" if gpu.get("tight") else "#2e7d32"


def _nominal_forecast(config: RunConfig, gpu: str, gpus: int):
    from ft_jupyter.evaluate.forecast import forecast_run

    return forecast_run(config, gpu=gpu, gpus=gpus)


class PreflightStrip:
    """`estimate(config)` gives the one-GPU estimate (cached by the panel); `forecast(config, gpu, gpus)` the time
    and cost (nominal by default: the strip never trains)."""

    def __init__(
        self, estimate: Callable[[RunConfig], Any], forecast: Callable[[RunConfig, str, int], Any] | None = None
    ):
        from ft_jupyter.evaluate.throughput import GPU_CLASSES

        self._estimate = estimate
        self._forecast = forecast or _nominal_forecast
        self._config: RunConfig | None = None
        self.html = widgets.HTML("<i>estimating…</i>")
        self.html.add_class("jp-ft-preflight")
        small = {"width": "auto"}
        self.gpus = widgets.BoundedIntText(
            value=1,
            min=1,
            max=1024,
            description="GPUs",
            layout={"width": "130px"},
            tooltip="GPUs (processes) the run would be spread over; memory is per GPU",
        )
        self.strategy = widgets.Dropdown(
            options=STRATEGY_OPTIONS,
            value="ddp",
            description="split",
            layout=small,
            tooltip="DDP replicates the model; ZeRO and FSDP split it across the GPUs",
        )
        self.offload = widgets.Checkbox(
            value=False,
            description="CPU offload",
            indent=False,
            layout=small,
            tooltip="ZeRO-Offload / FSDP CPU offload: optimizer state in CPU RAM",
        )
        self.gpu = widgets.Dropdown(
            options=[("smallest it fits", "")] + [(g.name, g.name) for g in GPU_CLASSES],
            value="",
            description="forecast on",
            layout=small,
            tooltip="GPU class for the nominal time and cost",
        )
        controls = widgets.HBox([self.gpus, self.strategy, self.offload, self.gpu])
        controls.add_class("jp-ft-preflight-controls")
        self.widget = widgets.VBox([self.html, controls])
        for control in (self.gpus, self.strategy, self.offload, self.gpu):
            control.observe(lambda _: self._redraw(), names="value")
        self.estimate: dict[str, Any] | None = None

    def update(self, config: RunConfig) -> None:
        self._config = config
        self._redraw()

    def _redraw(self) -> None:
        from ft_jupyter.evaluate.throughput import fitting_gpu

        self.offload.disabled = self.strategy.value == "ddp"
        if self._config is None:
            return
        config = self._config
        split = {
            "gpus": self.gpus.value,
            "strategy": self.strategy.value,
            "offload": self.offload.value and self.strategy.value != "ddp",
        }
        try:
            self.estimate = self._estimate_for(config, split)
        except Exception as exc:  # e.g. a hub model that is not cached: say so, keep the panel usable
            self.estimate = None
            self.html.value = f"<div style='color:#c62828'>No estimate for this config: {html.escape(str(exc))}</div>"
            return
        try:
            forecast = self._forecast(config, self.gpu.value or fitting_gpu(self.estimate["gpu_fit"]), split["gpus"])
            self.estimate.update(forecast=forecast.to_json(), forecast_error=None)
        except Exception as exc:  # the data not on this machine, say: the memory estimate still stands
            self.estimate.update(forecast=None, forecast_error=str(exc))
        self.html.value = preflight_html(self.estimate)

    def _estimate_for(self, config: RunConfig, split: dict[str, Any]) -> dict[str, Any]:
        if split == {"gpus": 1, "strategy": "ddp", "offload": False}:
            return dict(self._estimate(config).to_json())
        from ft_jupyter.models.estimate import estimate_run

        return estimate_run(config, **split).to_json()
