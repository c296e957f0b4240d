"""The live training dashboard: an observer of training events, drawn with a Plotly FigureWidget.

It is called on the training thread for every event. Taking an event in costs a few list appends. Drawing happens
at most every `min_interval_s` and within a 0.5% time budget (see `throttle`); the first steps, evaluations, warnings
and the run's end always draw. A redraw is one `plotly_restyle` of downsampled arrays plus one status and one
progress message, so watching a run does not slow it (benchmarks/bench_dashboard.py measures it).
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ft_jupyter.progress import fmt_duration
from ft_jupyter.ui.series import RunCurves, RunningEma, downsample
from ft_jupyter.ui.throttle import Throttle

# Trace order in the figure; the dashboard updates traces by these indices.
LOSS, LOSS_SMOOTH, EVAL, LR, GRAD, TPS = range(6)
_STATE_COLOURS = {
    "starting": "#555",
    "running": "#1565c0",
    "stopping": "#ef6c00",
    "finished": "#2e7d32",
    "stopped": "#ef6c00",
    "failed": "#c62828",
}


def curves_figure(widget: bool = True) -> go.Figure:
    """The empty 2×2 chart: loss (train, smoothed, eval), learning rate, gradient norm, tokens/s."""
    base = make_subplots(
        rows=2,
        cols=2,
        horizontal_spacing=0.1,
        vertical_spacing=0.16,
        subplot_titles=("loss", "learning rate", "gradient norm", "tokens / s"),
    )
    fig = go.FigureWidget(base) if widget else go.Figure(base)
    fig.add_scatter(name="train loss", mode="lines", line={"color": "rgba(21,101,192,0.3)", "width": 1}, row=1, col=1)
    fig.add_scatter(name="train loss (smoothed)", mode="lines", line={"color": "#1565c0", "width": 2}, row=1, col=1)
    fig.add_scatter(name="eval loss", mode="lines+markers", line={"color": "#e65100", "width": 2}, row=1, col=1)
    fig.add_scatter(name="learning rate", mode="lines", line={"color": "#6a1b9a"}, showlegend=False, row=1, col=2)
    fig.add_scatter(name="grad norm", mode="lines", line={"color": "#00838f"}, showlegend=False, row=2, col=1)
    fig.add_scatter(name="tokens/s", mode="lines", line={"color": "#558b2f"}, showlegend=False, row=2, col=2)
    fig.update_layout(
        height=480,
        margin={"l": 50, "r": 20, "t": 40, "b": 40},
        legend={"orientation": "h", "y": -0.12},
        uirevision="keep-zoom",
    )
    for col in (1, 2):
        fig.update_xaxes(title_text="step", row=2, col=col)
    return fig


def fill_figure(fig: go.Figure, curves: RunCurves, smoother: RunningEma, max_points: int) -> None:
    """Put the current curves into `fig` as one restyle message.

    `plotly_restyle` takes the arrays as they are; assigning `trace.x` would run plotly's validators over every
    point, ~10x the cost, on the training thread.
    """
    loss_x, loss_y = curves.loss.arrays()
    pairs = {
        LOSS: (loss_x, loss_y),
        LOSS_SMOOTH: (loss_x, smoother.follow(curves.loss.y)),
        EVAL: curves.eval_loss.arrays(),
        LR: curves.learning_rate.arrays(),
        GRAD: curves.grad_norm.arrays(),
        TPS: curves.tokens_per_second.arrays(),
    }
    xs, ys = [], []
    for x, y in pairs.values():
        x, y = downsample(x, y, max_points)
        xs.append(x)
        ys.append(y)
    fig.plotly_restyle({"x": xs, "y": ys}, list(pairs))


def _cost(event: dict[str, Any], key: str, curves: RunCurves) -> str:
    priced = curves.started is not None and curves.started.get("price_per_hour")
    return f", cost ${event[key]:.4f}" if priced and event.get(key) is not None else ""


def status_text(curves: RunCurves, stopping: bool = False) -> tuple[str, str]:
    """(state, one line saying what is happening) for the status line."""
    end, started = curves.end, curves.started
    if end is not None and end["type"] == "finished":
        loss = end["train_loss"]
        tail = f", last loss {loss:.4f}" if loss is not None else ""
        why = f" ({end['reason']})" if end.get("reason") else ""
        return "finished", (
            f"{end['step']} steps in {fmt_duration(end['elapsed_s'])}{why}{tail}"
            f"{_cost(end, 'cost', curves)}; saved to {end['artifact_path']}"
        )
    if end is not None and end["type"] == "stopped":
        return "stopped", (
            f"{end['reason']} at step {end['step']}{_cost(end, 'cost', curves)}; saved to {end['artifact_path']}"
        )
    if end is not None:
        return "failed", f"at step {end['step']}: {end['error']} {end['advice']}".rstrip()
    if stopping:
        return "stopping", "stop requested; the run ends after the current step and saves what it learned"
    if started is None:
        return "starting", "loading the model and preparing the data"
    share = 100 * started["params_trainable"] / max(1, started["params_total"])
    return "running", (
        f"{started['max_steps']} steps on {started['device']} in {started['precision']}; "
        f"{started['params_trainable']:,} of {started['params_total']:,} parameters train "
        f"({share:.2f}%), {started['train_rows']} training rows"
    )


def progress_fraction(curves: RunCurves) -> float:
    step, started = curves.last_step, curves.started
    total = step["max_steps"] if step is not None else (started["max_steps"] if started is not None else 0)
    done = step["step"] if step is not None else 0
    return min(1.0, done / total) if total > 0 else 0.0


def progress_html(curves: RunCurves, colour: str) -> str:
    width = 100 * progress_fraction(curves)
    bar = (
        f"<div style='flex:0 0 40%;height:10px;background:#e0e0e0;border-radius:5px;overflow:hidden'>"
        f"<div class='jp-ft-progress-bar' style='width:{width:.1f}%;height:100%;background:{colour}'></div></div>"
    )
    return (
        f"<div style='display:flex;align-items:center;gap:10px'>{bar}"
        f"<span>{html.escape(progress_text(curves))}</span></div>"
    )


def progress_text(curves: RunCurves) -> str:
    step = curves.last_step
    if step is None:
        return "step 0"
    parts = [
        f"step {step['step']}/{step['max_steps']}",
        f"elapsed {fmt_duration(step['elapsed_s'])}",
        f"ETA {fmt_duration(step['eta_s'])}",
    ]
    if curves.started is not None and curves.started.get("price_per_hour"):
        parts.append(f"cost ${step['cost_so_far']:.4f}")
    if step["loss"] is not None:
        parts.append(f"loss {step['loss']:.4f}")
    if step["memory_mb"] is not None:
        parts.append(f"peak memory {step['memory_mb']:,.0f} MiB")
    return " · ".join(parts)


class Dashboard:
    """Live view of one run. Pass it as an observer to training, or feed it events from a run folder."""

    def __init__(
        self,
        *,
        on_stop: Callable[[], None] | None = None,
        title: str = "",
        max_points: int = 600,
        min_interval_s: float = 0.2,
        always_first: int = 5,
        smoothing: float = 0.6,
        throttle: Throttle | None = None,
    ):
        self.curves = RunCurves()
        self.max_points = max_points
        self.throttle = throttle or Throttle(min_interval_s, always_first)
        self.on_stop = on_stop
        self.redraws = 0
        self._stopping = False
        self._ended: tuple[str, str] | None = None  # set when a run folder says it ended without a final event
        self.follower = None  # the RunFollower feeding a re-opened run, if any
        self.export = None  # the Export section, once add_export() gave the dashboard its run folder
        self._lock = threading.RLock()
        self._smoother = RunningEma(smoothing)
        self.fig = curves_figure(widget=True)
        self.title = widgets.HTML(f"<b>{html.escape(title)}</b>" if title else "")
        self.status = widgets.HTML()
        self.status.add_class("jp-ft-dashboard-status")
        # Bar and text in one HTML widget: one message per redraw instead of two.
        self.progress = widgets.HTML()
        self.progress.add_class("jp-ft-dashboard-progress")
        self.warnings = widgets.HTML()
        self.warnings.add_class("jp-ft-dashboard-warnings")
        self.stop_button = widgets.Button(
            description="Stop",
            icon="stop",
            button_style="danger",
            tooltip="Stop after the current step; what was learned so far is saved.",
            disabled=on_stop is None,
        )
        self.stop_button.add_class("jp-ft-dashboard-stop")
        self.stop_button.on_click(lambda _: self.request_stop())
        self.scale = widgets.ToggleButtons(
            options=["linear", "log"],
            value="linear",
            style={"button_width": "60px"},
            tooltips=["linear loss axis", "log loss axis: late progress stays visible when the loss has fallen a lot"],
        )
        self.scale.observe(self._on_scale, names="value")
        self.smoothing = widgets.FloatSlider(
            value=smoothing,
            min=0.0,
            max=0.99,
            step=0.01,
            description="smoothing",
            continuous_update=False,
            readout_format=".2f",
            tooltip="Exponential moving average of the loss; the raw curve stays behind it, faint.",
        )
        self.smoothing.observe(self._on_smoothing, names="value")
        self.widget = widgets.VBox(
            [
                self.title,
                self.status,
                self.progress,
                self.warnings,
                widgets.HBox(
                    [self.stop_button, widgets.HTML("&nbsp;&nbsp;loss axis&nbsp;"), self.scale, self.smoothing],
                    layout={"align_items": "center"},
                ),
                self.fig,
            ]
        )
        self.widget.add_class("jp-ft-dashboard")
        self._draw_text()

    # ---- events in ----------------------------------------------------------------------------------------------
    def __call__(self, event: Any) -> None:
        """Observer entry point: takes an Event or its JSON dict (as read back from events.jsonl)."""
        data = event if isinstance(event, dict) else event.to_json()
        with self._lock:
            kind = self.curves.apply(data)
            if kind == "step":
                if self.throttle.ready():
                    self.redraw()
            elif kind != "checkpoint":
                self.throttle.force()
                self.redraw()

    def replay(self, events: list[dict[str, Any]]) -> None:
        """Take many events at once (re-opening a run) and draw once."""
        with self._lock:
            for event in events:
                self.curves.apply(event)
            self.throttle.force()
            self.redraw()

    # ---- drawing ------------------------------------------------------------------------------------------------
    def redraw(self) -> None:
        with self._lock:
            started = time.perf_counter()
            fill_figure(self.fig, self.curves, self._smoother, self.max_points)
            self._draw_text()
            self.redraws += 1
            self.throttle.cost(time.perf_counter() - started)

    def _draw_text(self) -> None:
        state, message = self._ended or status_text(self.curves, self._stopping)
        colour = _STATE_COLOURS.get(state, "#555")
        self.status.value = (
            f"<span style='color:{colour};font-weight:bold' data-state='{state}'>{state}</span>"
            f" — {html.escape(message)}"
        )
        self.progress.value = progress_html(self.curves, colour)
        self.warnings.value = warnings_html(self.curves.warnings) + notes_html(self.curves.notes)
        if self.curves.end is not None or self._ended is not None:
            self.stop_button.disabled = True
            self.stop_button.description = state.capitalize()

    def _on_scale(self, change) -> None:
        with self._lock:
            self.fig.update_yaxes(type=change["new"], row=1, col=1)

    def _on_smoothing(self, change) -> None:
        with self._lock:
            self._smoother = RunningEma(change["new"])
            self.redraw()

    def mark_ended(self, state: str, message: str) -> None:
        """Show that the run ended although no final event says so (its process died, as status.json reports)."""
        with self._lock:
            self._ended = (state, message)
            self.redraw()

    # ---- stop ---------------------------------------------------------------------------------------------------
    def request_stop(self) -> None:
        if self.on_stop is None or self.curves.end is not None or self._stopping:
            return
        self._stopping = True
        self.stop_button.disabled = True
        self.stop_button.description = "Stopping…"
        self.on_stop()
        self._draw_text()

    def add_export(self, run_dir: Callable[[], Any]) -> None:
        """A collapsed Export section under the curves, for when the run has ended (see ui/export.py)."""
        from ft_jupyter.ui.export import ExportPanel

        self.export = ExportPanel(run_dir)
        section = widgets.Accordion(
            children=[self.export.widget], titles=("Export: merge, GGUF, Ollama, quantized copies",)
        )
        section.selected_index = None
        self.widget.children = (*self.widget.children, section)

    # ---- display ------------------------------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    @property
    def trace_lengths(self) -> dict[str, int]:
        """How many points each trace holds right now (what the browser was sent)."""
        return {trace.name: 0 if trace.x is None else len(trace.x) for trace in self.fig.data}


def warnings_html(warnings: list[dict[str, Any]]) -> str:
    """Health warnings, newest first, in a box that is hard to miss."""
    if not warnings:
        return ""
    items = "".join(
        f"<li><b>{html.escape(w['code'])}</b> (step {w['step']}): {html.escape(w['message'])}"
        + (f" <i>{html.escape(w['advice'])}</i>" if w.get("advice") else "")
        + "</li>"
        for w in reversed(warnings[-5:])
    )
    more = f"<div>… and {len(warnings) - 5} earlier warnings</div>" if len(warnings) > 5 else ""
    return (
        "<div style='border:2px solid #ef6c00;background:#fff3e0;padding:4px 8px;border-radius:4px'>"
        f"<b>⚠ Training health</b><ul style='margin:2px 0'>{items}</ul>{more}</div>"
    )


def notes_html(notes: list[dict[str, Any]]) -> str:
    """Things the run did on its own (a block unfrozen, the best checkpoint loaded): quieter than warnings."""
    if not notes:
        return ""
    items = "".join(f"<li>step {n['step']}: {html.escape(n['message'])}</li>" for n in notes[-5:])
    return f"<div style='color:#37474f;padding:2px 8px'><ul style='margin:2px 0'>{items}</ul></div>"


def static_figure(curves: RunCurves, smoothing: float = 0.6, max_points: int = 600) -> go.Figure:
    """The same chart as a plain Figure, for front-ends that cannot show widgets."""
    fig = curves_figure(widget=False)
    fill_figure(fig, curves, RunningEma(smoothing), max_points)
    return fig
