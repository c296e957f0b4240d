"""Training cost per run and the cost crossover: when does a fine-tuned model with short prompts, plus what it cost
to train, become cheaper than calling an API with long prompts?

Per request, the prompted API pays for the whole prompt (instructions and examples, say 1,000 tokens) every time;
the fine-tuned model needs only the input (say 50 tokens). Each request saves the difference, and the training cost
is paid back after training cost ÷ saving per request requests. With the lessons' numbers (1,000 vs 50 tokens at
$10 per million, $100-$1,000 of training) that is about 10,500 to 105,300 requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ft_jupyter.config import ConfigError
from ft_jupyter.evaluate.runs import open_run
from ft_jupyter.train.store import SAVED_END_STATES

VOLUMES = (1_000, 10_000, 100_000, 1_000_000)


@dataclass(frozen=True)
class TrainingCost:
    run_id: str
    device_hours: float
    price_per_hour: float
    cost: float

    def __str__(self) -> str:
        if not self.price_per_hour:
            return (
                f"run {self.run_id}: {self.device_hours:.3f} device-hours; set training.price_per_hour (or pass "
                "price_per_hour) to see what it cost"
            )
        return (
            f"run {self.run_id}: {self.device_hours:.3f} device-hours × ${self.price_per_hour:g}/h = ${self.cost:.2f}"
        )

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython shows the text, not the fields
        printer.text(str(self))


def training_cost(run: Any, *, runs_dir: str | Path = "runs", price_per_hour: float | None = None) -> TrainingCost:
    """Device-hours and cost of a run from its events (the trainer records both when it finishes or stops)."""
    run_dir, _ = open_run(run, runs_dir)
    events, _ = run_dir.read_events()
    ends = [e for e in events if e.get("type") in SAVED_END_STATES]
    if not ends:
        raise ConfigError(
            f"Run {run_dir.run_id} has not finished (state: {run_dir.status().get('state')}); its cost "
            "is known once it finishes or is stopped."
        )
    end = ends[-1]
    hours = float(end.get("device_hours") or end.get("elapsed_s", 0.0) / 3600)
    price = run_dir.config().training.price_per_hour if price_per_hour is None else price_per_hour
    return TrainingCost(run_dir.run_id, hours, price, hours * price)


@dataclass(frozen=True)
class Crossover:
    api_cost_per_request: float
    tuned_cost_per_request: float
    training_cost: float
    break_even_requests: int | None  # None: fine-tuning never pays back (no saving per request)

    @property
    def saving_per_request(self) -> float:
        return self.api_cost_per_request - self.tuned_cost_per_request

    def costs_at(self, requests: int) -> tuple[float, float]:
        """(prompted API, fine-tuned including its training) total cost for `requests` requests."""
        return requests * self.api_cost_per_request, self.training_cost + requests * self.tuned_cost_per_request

    def to_json(self) -> dict[str, Any]:
        return {
            "api_cost_per_request": self.api_cost_per_request,
            "tuned_cost_per_request": self.tuned_cost_per_request,
            "training_cost": self.training_cost,
            "saving_per_request": self.saving_per_request,
            "break_even_requests": self.break_even_requests,
            "table": [{"requests": n, "api": a, "finetuned": t} for n in VOLUMES for a, t in [self.costs_at(n)]],
        }

    def __str__(self) -> str:
        lines = [
            f"per request: prompted API ${self.api_cost_per_request:.6f}, fine-tuned "
            f"${self.tuned_cost_per_request:.6f}; training ${self.training_cost:,.2f}"
        ]
        if self.break_even_requests is None:
            lines.append("The fine-tuned model saves nothing per request, so its training never pays back.")
        else:
            lines.append(f"Fine-tuning becomes cheaper after {self.break_even_requests:,} requests.")
        lines.append(f"  {'requests':>10}  {'prompted API':>14}  {'fine-tuned':>14}")
        for n in VOLUMES:
            api, tuned = self.costs_at(n)
            lines.append(f"  {n:>10,}  {f'${api:,.2f}':>14}  {f'${tuned:,.2f}':>14}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython shows the text, not the fields
        printer.text(str(self))


def cost_crossover(
    *,
    api_prompt_tokens: int,
    tuned_prompt_tokens: int,
    price_per_million: float,
    training_cost: float,
    tuned_price_per_million: float | None = None,
    output_tokens: int = 0,
    output_price_per_million: float = 0.0,
    tuned_cost_per_1k: float | None = None,
) -> Crossover:
    """Requests after which the fine-tuned model (short prompts + training cost) is cheaper than the prompted API.

    The fine-tuned model is priced per token (`tuned_price_per_million`, default the API's price: a hosted
    fine-tune), or, self-hosted, by `tuned_cost_per_1k` requests (see latency.cost_per_1k_requests).
    Output tokens cost the same on both sides unless priced differently, so they only matter for the totals.
    """
    output = output_tokens * output_price_per_million / 1e6
    api = api_prompt_tokens * price_per_million / 1e6 + output
    if tuned_cost_per_1k is not None:
        tuned = tuned_cost_per_1k / 1000
    else:
        per_million = price_per_million if tuned_price_per_million is None else tuned_price_per_million
        tuned = tuned_prompt_tokens * per_million / 1e6 + output
    saving = api - tuned
    # The tiny epsilon absorbs float noise (0.0095 * n) so an exact break-even is not pushed one request later.
    even = math.ceil(training_cost / saving - 1e-9) if saving > 0 else None
    return Crossover(api, tuned, training_cost, even)


def worked_example() -> dict[str, Crossover]:
    """The lessons' worked example: 1,000-token prompts vs 50, $10 per million input tokens, $100 or $1,000 of
    training."""
    return {
        f"${cost:,}": cost_crossover(
            api_prompt_tokens=1000, tuned_prompt_tokens=50, price_per_million=10.0, training_cost=float(cost)
        )
        for cost in (100, 1000)
    }
