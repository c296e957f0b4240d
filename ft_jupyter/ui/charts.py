"""Charts of measured results for the lessons: the comparison ladder (score and prompt tokens per rung) and the
data-size learning curve. Plain Plotly figures: they render in JupyterLab, Colab and Kaggle, and in a saved
notebook."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

COLOURS = {"base": "#9e9e9e", "prompted": "#64b5f6", "retrieved": "#1976d2", "finetuned": "#2e7d32"}


def ladder_chart(comparison: Any) -> go.Figure:
    """Two panels over the rungs of a Comparison: the task metric, and the prompt tokens each request carries."""
    from ft_jupyter.evaluate.comparison import VARIANTS

    rungs = comparison.variants
    names = [VARIANTS[r] for r in rungs]
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(f"{comparison.metric} on {comparison.n} held-out rows", "prompt tokens per request"),
    )
    colours = [COLOURS.get(r, "#607d8b") for r in rungs]
    figure.add_trace(
        go.Bar(
            x=names,
            y=[100 * comparison.headline(r) for r in rungs],
            marker_color=colours,
            text=[f"{100 * comparison.headline(r):.1f}%" for r in rungs],
            textposition="outside",
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    tokens = [comparison.prompt_tokens.get(r, 0.0) for r in rungs]
    figure.add_trace(
        go.Bar(
            x=names,
            y=tokens,
            marker_color=colours,
            text=[f"{t:.0f}" for t in tokens],
            textposition="outside",
            showlegend=False,
        ),
        row=1,
        col=2,
    )
    figure.update_yaxes(title_text="%", range=[0, 110], row=1, col=1)
    figure.update_layout(height=380, margin={"t": 50, "b": 40, "l": 50, "r": 20})
    return figure


def learning_curve_chart(curve: Any) -> go.Figure:
    """Held-out score against training rows, with the prompted baselines as dashed lines to beat."""
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[p.train_rows for p in curve.points],
            y=[100 * p.score for p in curve.points],
            mode="lines+markers+text",
            name="fine-tuned",
            text=[f"{100 * p.score:.1f}%" for p in curve.points],
            textposition="top center",
            line={"color": COLOURS["finetuned"]},
        )
    )
    for rung, score in curve.baselines.items():
        figure.add_hline(
            y=100 * score,
            line_dash="dash",
            line_color=COLOURS.get(rung, "#607d8b"),
            annotation_text=f"{rung} (no training) {100 * score:.1f}%",
        )
    figure.update_layout(
        height=380,
        xaxis_title="training rows",
        yaxis_title=f"{curve.metric} (%)",
        yaxis_range=[0, 105],
        margin={"t": 30, "b": 40, "l": 50, "r": 20},
    )
    return figure
