"""Evaluation and economics: task metrics, the base / prompted / fine-tuned comparison, the forgetting check,
latency and cost per request, the cost crossover, the budget checklist, and a run's time and cost forecast before it
starts (forecast, throughput) and against what it took. Heavy libraries load on first use."""

from ft_jupyter.evaluate.checklist import budget_checklist
from ft_jupyter.evaluate.comparison import Comparison, compare
from ft_jupyter.evaluate.economics import cost_crossover, training_cost, worked_example
from ft_jupyter.evaluate.forgetting import forgetting_check
from ft_jupyter.evaluate.head import evaluate_head
from ft_jupyter.evaluate.latency import cost_per_1k_requests, measure_latency, run_latency
from ft_jupyter.evaluate.metrics import classification_metrics, generation_metrics

__all__ = [
    "Comparison",
    "budget_checklist",
    "classification_metrics",
    "compare",
    "cost_crossover",
    "cost_per_1k_requests",
    "evaluate_head",
    "forgetting_check",
    "generation_metrics",
    "measure_latency",
    "run_latency",
    "worked_example",
    "training_cost",
]
