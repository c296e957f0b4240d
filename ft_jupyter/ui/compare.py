"""Run comparison: the loss curves of several runs on one chart, and a table of the settings that differ.

The table is the point: when two runs differ in more than one setting, their curves cannot say which setting made
the difference, so the view says so.
"""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go

from ft_jupyter.config import ConfigError, RunConfig
from ft_jupyter.ui.series import RunCurves, RunningEma, downsample
from ft_jupyter.ui.training import as_run_dir, read_curves

_PALETTE = ("#1565c0", "#e65100", "#2e7d32", "#6a1b9a", "#c62828", "#00838f", "#827717", "#4e342e")
_IGNORED = {"name", "runs_dir"}  # differ between any two runs and say nothing about the experiment


def flatten(config: RunConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.to_dict().items():
        if isinstance(value, dict):
            out.update({f"{key}.{name}": v for name, v in value.items()})
        elif key not in _IGNORED:
            out[key] = value
    return out


def config_differences(configs: list[RunConfig]) -> dict[str, list[Any]]:
    """Dotted setting → its value in each run, for the settings that are not the same in all of them."""
    flat = [flatten(c) for c in configs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    return {k: [f.get(k) for f in flat] for k in keys if len({repr(f.get(k)) for f in flat}) > 1}


class RunComparison:
    """Overlaid curves (`figure`) and the differing settings (`differences`, shown as a table)."""

    def __init__(self, runs: list[Any], smoothing: float = 0.6, max_points: int = 600):
        if len(runs) < 2:
            raise ConfigError("Compare at least two runs.")
        self.run_dirs = [as_run_dir(r) for r in runs]
        self.labels = [d.run_id for d in self.run_dirs]
        self.configs = [d.config() for d in self.run_dirs]
        self.curves = [read_curves(d) for d in self.run_dirs]
        self.differences = config_differences(self.configs)
        self.figure = self._figure(smoothing, max_points)

    def _figure(self, smoothing: float, max_points: int) -> go.Figure:
        fig = go.Figure(
            layout={
                "height": 420,
                "title": {"text": "loss by run"},
                "xaxis": {"title": {"text": "step"}},
                "yaxis": {"title": {"text": "loss"}},
                "margin": {"t": 50, "b": 40},
            }
        )
        for i, (label, curves) in enumerate(zip(self.labels, self.curves, strict=True)):
            colour = _PALETTE[i % len(_PALETTE)]
            x, y = curves.loss.arrays()
            smooth = RunningEma(smoothing).follow(curves.loss.y)
            x_s, y_s = downsample(x, smooth, max_points)
            fig.add_scatter(x=x_s, y=y_s, mode="lines", name=f"{label} train", line={"color": colour})
            ex, ey = curves.eval_loss.arrays()
            if len(ex):
                fig.add_scatter(
                    x=ex, y=ey, mode="lines+markers", name=f"{label} eval", line={"color": colour, "dash": "dash"}
                )
        return fig

    def table_html(self) -> str:
        head = "".join(f"<th style='padding:2px 8px'>{html.escape(label)}</th>" for label in self.labels)
        rows = "".join(
            f"<tr><td style='padding:2px 8px'><code>{html.escape(key)}</code></td>"
            + "".join(f"<td style='padding:2px 8px'>{html.escape(repr(v))}</td>" for v in values)
            + "</tr>"
            for key, values in self.differences.items()
        )
        outcome = "".join(f"<td style='padding:2px 8px'>{html.escape(_outcome(c))}</td>" for c in self.curves)
        rows += f"<tr style='border-top:1px solid #999'><td style='padding:2px 8px'><b>result</b></td>{outcome}</tr>"
        return (
            f"<table class='jp-ft-compare-table' style='border-collapse:collapse'><tr><th></th>{head}</tr>"
            f"{rows}</table>{self.lesson_html()}"
        )

    def lesson_html(self) -> str:
        n = len(self.differences)
        if n == 0:
            text = "These runs have identical settings: differences between them are noise (seed, hardware)."
        elif n == 1:
            text = f"One setting differs ({next(iter(self.differences))}), so the curves show its effect."
        else:
            text = (
                f"{n} settings differ, so these curves cannot tell which of them made the difference. Change "
                "one variable per experiment."
            )
        colour = "#e65100" if n > 1 else "#2e7d32"
        return f"<p style='color:{colour}'>{html.escape(text)}</p>"

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        display(self.figure)
        display(HTML(self.table_html()))


def _outcome(curves: RunCurves) -> str:
    state = curves.state
    loss = curves.loss.y[-1] if curves.loss.y else None
    evals = [v for v in curves.eval_loss.y if v == v]
    parts = [state]
    if loss is not None:
        parts.append(f"last loss {loss:.4f}")
    if evals:
        parts.append(f"best eval {min(evals):.4f}")
    return ", ".join(parts)


def compare_runs(*runs: Any, smoothing: float = 0.6) -> RunComparison:
    """Compare run folders (or the runs you started): show the result as a cell's last line."""
    return RunComparison(list(runs), smoothing=smoothing)
