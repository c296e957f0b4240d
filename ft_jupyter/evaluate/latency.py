"""Latency and serving cost: time n single requests (greedy generation, one at a time, as a small deployment would
serve them), report p50/p95 and tokens per second, and turn a price per hour into a cost per 1,000 requests.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ft_jupyter.evaluate.runs import load_models, open_run, save_result


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: a value that was actually measured."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def cost_per_1k_requests(seconds_per_request: float, price_per_hour: float, concurrency: int = 1) -> float:
    """What 1,000 requests cost on a machine billed `price_per_hour`, serving `concurrency` requests at once."""
    return 1000 * seconds_per_request / 3600 * price_per_hour / concurrency


@dataclass(frozen=True)
class LatencyReport:
    n: int
    p50_s: float
    p95_s: float
    mean_s: float
    tokens_per_s: float  # generated tokens / generation time, over all requests
    mean_new_tokens: float
    price_per_hour: float = 0.0
    seconds: list[float] = field(default_factory=list, repr=False)

    @property
    def cost_per_1k(self) -> float | None:
        """Cost of 1,000 requests at the mean latency, one at a time; None without a price."""
        return cost_per_1k_requests(self.mean_s, self.price_per_hour) if self.price_per_hour else None

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "p50_s": self.p50_s,
            "p95_s": self.p95_s,
            "mean_s": self.mean_s,
            "tokens_per_s": self.tokens_per_s,
            "mean_new_tokens": self.mean_new_tokens,
            "price_per_hour": self.price_per_hour,
            "cost_per_1k": self.cost_per_1k,
        }

    def __str__(self) -> str:
        cost = (
            f"; ${self.cost_per_1k:.4f} per 1,000 requests at ${self.price_per_hour:g}/h, one at a time"
            if self.cost_per_1k is not None
            else "; set a price per hour to get the cost per 1,000 requests"
        )
        return (
            f"latency over {self.n} requests: p50 {self.p50_s * 1000:.0f} ms, p95 {self.p95_s * 1000:.0f} ms, "
            f"{self.tokens_per_s:.1f} tokens/s ({self.mean_new_tokens:.1f} new tokens each){cost}"
        )

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython shows the text, not the fields
        printer.text(str(self))


def measure_latency(
    model: Any,
    tokenizer: Any,
    prompts: list[list[dict[str, str]]],
    *,
    n: int = 20,
    max_new_tokens: int = 32,
    warmup: int = 2,
    price_per_hour: float = 0.0,
    desc: str = "Latency",
    progress: bool | None = None,
) -> LatencyReport:
    """Time `n` greedy requests (cycling through `prompts`) after `warmup` untimed ones; a bar labelled `desc`
    counts the requests, warm-up included."""
    import torch

    from ft_jupyter.progress import progress_bar

    if not prompts:
        raise ValueError("measure_latency needs at least one prompt")
    model.eval()
    seconds, new_tokens = [], []
    with progress_bar(warmup + n, desc, unit="requests", progress=progress) as bar:
        for i in range(warmup + n):
            text = tokenizer.apply_chat_template(prompts[i % len(prompts)], tokenize=False, add_generation_prompt=True)
            enc = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
            started = time.perf_counter()
            with torch.inference_mode():
                out = model.generate(
                    **enc,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                )
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            if i >= warmup:
                seconds.append(time.perf_counter() - started)
                new_tokens.append(out.shape[1] - enc["input_ids"].shape[1])
            bar.update()  # after the clock stopped: drawing the bar is not part of a request's latency
    total = sum(seconds)
    return LatencyReport(
        n,
        percentile(seconds, 50),
        percentile(seconds, 95),
        total / n,
        sum(new_tokens) / total if total else 0.0,
        sum(new_tokens) / n,
        price_per_hour,
        seconds,
    )


def run_latency(
    run: Any,
    *,
    runs_dir: str | Path = "runs",
    n: int = 20,
    max_new_tokens: int = 32,
    price_per_hour: float | None = None,
    save: bool = True,
    progress: bool | None = None,
) -> dict[str, LatencyReport]:
    """Latency of the base and the fine-tuned model on the run's test prompts; the price defaults to the run's
    training.price_per_hour. Saved for the budget checklist. progress: a bar per model (FT_JUPYTER_PROGRESS)."""
    from ft_jupyter.data.prepare import prepare

    run_dir, result = open_run(run, runs_dir)
    config = run_dir.config()
    data = prepare(config.data, seed=config.training.seed)
    prompts = [e.prompt for e in (data.test or data.validation or data.train)]
    price = config.training.price_per_hour if price_per_hour is None else price_per_hour
    models = load_models(run_dir, result)
    kwargs = dict(n=n, max_new_tokens=max_new_tokens, price_per_hour=price, progress=progress)
    with models.base() as base:
        reports = {"base": measure_latency(base, models.tokenizer, prompts, desc="Latency: base", **kwargs)}
    reports["finetuned"] = measure_latency(
        models.tuned, models.tokenizer, prompts, desc="Latency: fine-tuned", **kwargs
    )
    if save:
        save_result(run_dir, "latency", {k: v.to_json() for k, v in reports.items()})
    return reports
