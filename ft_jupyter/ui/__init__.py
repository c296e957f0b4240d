"""Notebook UI: configuration panel, live training dashboard, run comparison, chat playground.

The only package that imports ipywidgets and plotly, and only when one of these functions is called:

    from ft_jupyter import ui
    panel = ui.configure()            # edit a RunConfig; panel.config is the last valid one
    run = ui.train(panel.config)      # live dashboard with a Stop button; training runs in the background
    ui.launch(config, processes=2)    # the same on several processes (accelerate DDP, DeepSpeed ZeRO)
    ui.open_run("runs/<run-id>")      # the same dashboard for a finished or running run folder
    ui.compare_runs(run_a, run_b)     # overlaid curves + the settings that differ
    ui.chat_playground(run)           # base vs adapter answers side by side
    ui.export(run)                    # merge + verify, GGUF + Ollama, quantized copies re-measured
    ui.ladder_chart(comparison)       # score and prompt tokens per rung of evaluate.compare
    ui.learning_curve_chart(curve)    # held-out score against training rows (evaluate.learning_curve)

Outside Jupyter, `train` prints text progress with ETA instead (see `frontend.display_mode`).
"""

from __future__ import annotations

from typing import Any


def configure(config=None):
    """Show-able panel editing `config` (default: RunConfig()); read `panel.config`."""
    from ft_jupyter.ui.panel import ConfigPanel

    return ConfigPanel(config)


def train(config, *, display: str | None = None):
    """Start training `config` with a live dashboard (or text progress outside Jupyter); see training.train."""
    from ft_jupyter.ui.training import train as _train

    return _train(config, display=display)


def launch(config, *, processes: int = 2, strategy: str = "ddp", offload: bool = False, display: str | None = None):
    """Train `config` on several processes (ddp, zero1/2/3, fsdp on GPUs) with the same live dashboard and Stop."""
    from ft_jupyter.ui.training import launch as _launch

    return _launch(config, processes=processes, strategy=strategy, offload=offload, display=display)


def open_run(run: Any, *, display: str | None = None):
    from ft_jupyter.ui.training import open_run as _open_run

    return _open_run(run, display=display)


def compare_runs(*runs: Any, smoothing: float = 0.6):
    from ft_jupyter.ui.compare import compare_runs as _compare

    return _compare(*runs, smoothing=smoothing)


def export(run: Any):
    """The Export section for a finished run (a run folder, RunDir, RunResult or TrainingView), on its own: merge +
    verify, GGUF, Ollama, quantized copies re-measured."""
    from ft_jupyter.ui.export import ExportPanel
    from ft_jupyter.ui.training import as_run_dir

    run_dir = as_run_dir(run)
    return ExportPanel(lambda: run_dir)


def chat_playground(run: Any = None, *, model: str | None = None, adapter: Any = None, prompt: str = ""):
    from ft_jupyter.ui.chat import chat_playground as _chat

    return _chat(run, model=model, adapter=adapter, prompt=prompt)


__all__ = ["chat_playground", "compare_runs", "configure", "export", "launch", "open_run", "train"]


def ladder_chart(comparison):
    """Plotly figure: the comparison's score and prompt tokens per rung (see evaluate.compare)."""
    from ft_jupyter.ui.charts import ladder_chart as _chart

    return _chart(comparison)


def learning_curve_chart(curve):
    """Plotly figure: held-out score against training rows, prompted baselines dashed (evaluate.learning_curve)."""
    from ft_jupyter.ui.charts import learning_curve_chart as _chart

    return _chart(curve)
