"""Shipping a run: merge + verify, quantized copies re-measured, GGUF, Ollama Modelfile, serving helpers.

Everything lands under runs/<run-id>/export/; heavy libraries load on first use.
"""

from ft_jupyter.export.merge import MergeReport, merge_run
from ft_jupyter.export.quantized import QuantizedReport, quantized_copies
from ft_jupyter.export.run import ExportReport, export_run
from ft_jupyter.export.serving import AdapterServer, batch_throughput, serving_commands

__all__ = [
    "AdapterServer",
    "ExportReport",
    "MergeReport",
    "QuantizedReport",
    "batch_throughput",
    "export_run",
    "merge_run",
    "quantized_copies",
    "serving_commands",
]
