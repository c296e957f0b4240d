"""Small charts beside the training controls: the learning-rate curve and the token-length histogram.

Each shows the effect of a setting before a run: how warmup and the scheduler shape the rate over the run, and how
many rows a max_seq_len would cut short.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from ft_jupyter.config import RunConfig

_SMALL = {"height": 220, "margin": {"l": 50, "r": 10, "t": 30, "b": 35}, "showlegend": False}


def _error_html(text: str) -> str:
    return f"<span style='color:#c62828'>{html.escape(text)}</span>"


class LearningRatePreview:
    """The learning rate of every step of the run `config` describes, redrawn when the schedule changes."""

    def __init__(self, total_steps: Callable[[RunConfig], int]):
        self._total_steps = total_steps
        self._key: Any = None
        self.fig = go.FigureWidget(
            layout={
                **_SMALL,
                "title": {"text": "learning rate per step", "font": {"size": 13}},
                "xaxis": {"title": {"text": "step"}},
                "yaxis": {"exponentformat": "e"},
            }
        )
        self.fig.add_scatter(mode="lines", line={"color": "#6a1b9a"}, fill="tozeroy")
        self.caption = widgets.HTML()
        self.widget = widgets.VBox([self.fig, self.caption], layout={"width": "520px"})
        self.widget.add_class("jp-ft-lr-preview")
        self.schedule = None

    def update(self, config: RunConfig) -> None:
        from ft_jupyter.ui.schedule import lr_schedule

        try:
            steps = self._total_steps(config)
            key = (config.training, steps)
            if key == self._key:
                return
            schedule = lr_schedule(config, steps)
        except Exception as exc:  # shown next to the chart; the panel keeps working
            self.caption.value = _error_html(f"No preview: {exc}")
            return
        self._key, self.schedule = key, schedule
        with self.fig.batch_update():
            self.fig.data[0].x, self.fig.data[0].y = schedule.steps, schedule.learning_rate
        self.caption.value = html.escape(schedule.describe())


class LengthPreview:
    """Histogram of tokens per training row with max_seq_len marked, and what that length would cut."""

    def __init__(self, stats: Callable[[RunConfig], Any]):
        self._stats = stats  # config -> data.lengths.LengthStats of the train split
        self._key: Any = None
        self.stats = None
        self.fig = go.FigureWidget(
            layout={
                **_SMALL,
                "title": {"text": "tokens per training row", "font": {"size": 13}},
                "xaxis": {"title": {"text": "tokens"}},
                "bargap": 0.05,
            }
        )
        self.fig.add_histogram(marker={"color": "#00838f"}, nbinsx=40)
        self.caption = widgets.HTML()
        self.widget = widgets.VBox([self.fig, self.caption], layout={"width": "520px"})
        self.widget.add_class("jp-ft-length-preview")
        self.truncated = 0

    def update(self, config: RunConfig) -> None:
        key = (config.model.name, config.data, config.training.assistant_only_loss, config.training.seed)
        if key != self._key:
            try:
                self.stats = self._stats(config)
            except Exception as exc:
                self.stats = None
                self.caption.value = _error_html(f"No token lengths: {exc}")
                return
            self._key = key
            with self.fig.batch_update():
                self.fig.data[0].x = np.asarray(self.stats.lengths("train"), dtype=int)
        if self.stats is not None:
            self._mark(config.training.max_seq_len)

    def _mark(self, max_len: int) -> None:
        lengths = self.stats.lengths("train")
        self.fig.layout.shapes = [
            {
                "type": "line",
                "x0": max_len,
                "x1": max_len,
                "y0": 0,
                "y1": 1,
                "yref": "paper",
                "line": {"color": "#c62828", "dash": "dash"},
            }
        ]
        if not lengths:
            self.caption.value = "No training rows."
            return
        cut = self.stats.truncated(max_len)["train"]
        self.truncated = cut["truncated"]
        p = self.stats.percentiles("train")
        colour = "#c62828" if cut["answer_cut"] else ("#e65100" if self.truncated else "#2e7d32")
        lost = (
            f"; {cut['answer_cut']} lose part of their answer, {cut['no_loss_left']} all of it"
            if cut["answer_cut"]
            else ""
        )
        self.caption.value = (
            f"<span style='color:{colour}'>max_seq_len {max_len}: <b class='jp-ft-truncated'>{self.truncated}</b> "
            f"of {len(lengths)} rows would be truncated{lost}</span>. Median {p['p50']}, 95th percentile "
            f"{p['p95']}, longest {p['max']} tokens; the data needs about {self.stats.recommend()}."
        )
