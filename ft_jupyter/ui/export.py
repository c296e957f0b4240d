"""The Export section of the notebook dashboard: choose what to ship, run the checked export, see what each smaller
copy costs in accuracy.

It drives `ft_jupyter.export.export_run` (the same call as `ft-jupyter export`); the progress bars of each step show
in the section's output area, and the report and a chart of the quantized copies follow.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ft_jupyter.config import ConfigError

DTYPES = [
    ("the base model's own", "auto"),
    ("float16", "float16"),
    ("bfloat16", "bfloat16"),
    ("float32 (exact)", "float32"),
]


class ExportPanel:
    """Widgets for one run's export; `run_dir` is called when Export is clicked (the run may still be training)."""

    def __init__(self, run_dir: Callable[[], Any]):
        self._run_dir = run_dir
        self.report = None
        self.dtype = widgets.Dropdown(
            options=DTYPES,
            value="auto",
            description="merge into",
            tooltip="Storage dtype of the merged weights; the merge itself is done in fp32",
        )
        self.gguf_f16 = widgets.Checkbox(value=False, description="GGUF f16", indent=False)
        self.gguf_q8 = widgets.Checkbox(value=True, description="GGUF q8_0", indent=False)
        self.ollama = widgets.Checkbox(value=True, description="Ollama Modelfile", indent=False)
        self.lora_gguf = widgets.Checkbox(value=False, description="adapter as GGUF", indent=False)
        self.quantized = widgets.Checkbox(value=True, description="score 8-bit, 4-bit and q8_0 copies", indent=False)
        self.throughput = widgets.Checkbox(value=False, description="batched throughput (1 / 4 / 16)", indent=False)
        self.button = widgets.Button(
            description="Export",
            icon="box",
            button_style="primary",
            tooltip="Merge, verify against the adapter, then what is ticked; everything is "
            "written under the run's export/ folder",
        )
        self.button.add_class("jp-ft-export-button")
        self.button.on_click(lambda _: self.run())
        self.message = widgets.HTML()
        self.message.add_class("jp-ft-export-message")
        self.out = widgets.Output()  # the progress bars of each step
        self.result = widgets.VBox()  # the report and the quantized-copies chart
        self.widget = widgets.VBox(
            [
                widgets.HTML(
                    "Merge the adapter into the base (checked against the adapter on the run's test prompts), "
                    "then write what you tick. Smaller copies are scored on the same held-out rows."
                ),
                self.dtype,
                widgets.HBox([self.gguf_f16, self.gguf_q8, self.ollama, self.lora_gguf]),
                widgets.HBox([self.quantized, self.throughput]),
                widgets.HBox([self.button, self.message], layout={"align_items": "center"}),
                self.out,
                self.result,
            ]
        )
        self.widget.add_class("jp-ft-export")

    def options(self) -> dict[str, Any]:
        gguf = tuple(k for k, box in (("f16", self.gguf_f16), ("q8_0", self.gguf_q8)) if box.value)
        quantized = ()
        if self.quantized.value:
            quantized = ("merged", "8bit", "4bit") + (("q8_0",) if "q8_0" in gguf else ())
        return {
            "dtype": self.dtype.value,
            "gguf": gguf,
            "ollama": self.ollama.value and bool(gguf),
            "lora_gguf": self.lora_gguf.value,
            "quantized": quantized,
            "throughput": (1, 4, 16) if self.throughput.value else (),
        }

    def run(self) -> Any:
        """Export with the ticked options (what the button does); returns the ExportReport, or None on a refusal."""
        from ft_jupyter.export import export_run

        self.button.disabled = True
        self.message.value = "exporting…"
        self.out.clear_output()
        self.result.children = ()
        try:
            with self.out:
                self.report = export_run(self._run_dir(), **self.options())
            shown = [widgets.HTML(f"<pre class='jp-ft-export-report'>{html.escape(str(self.report))}</pre>")]
            if self.report.quantized is not None:
                shown.append(quantized_figure(self.report.quantized))
            self.result.children = tuple(shown)
            ok = self.report.merge.ok
            self.message.value = (
                "<span style='color:#2e7d32'>✓ verified</span>"
                if ok
                else "<span style='color:#c62828'>finished with warnings: read the report</span>"
            )
            return self.report
        except ConfigError as error:
            self.message.value = f"<span style='color:#c62828'>{html.escape(str(error))}</span>"
            return None
        finally:
            self.button.disabled = False

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def quantized_figure(report: Any):
    """Accuracy (bars) and size (labels) of each copy: what a smaller file costs, at a glance."""
    import plotly.graph_objects as go

    rows = report.rows
    fig = go.FigureWidget(
        go.Bar(
            x=[r.label for r in rows],
            y=[100 * r.score for r in rows],
            text=[f"{100 * r.score:.1f} % · {r.bytes / 1e6:.1f} MB" for r in rows],
            textposition="outside",
            marker_color=["#1565c0" if r.copy == "merged" else "#90a4ae" for r in rows],
        )
    )
    fig.update_layout(
        title=f"Held-out {report.metric} of each copy ({report.n} test rows)",
        height=340,
        yaxis={"title": f"{report.metric} (%)", "range": [0, 110]},
        margin={"t": 50, "b": 40},
        template="plotly_white",
    )
    return fig
