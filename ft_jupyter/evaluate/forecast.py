"""How long a run will take and what it will cost, before starting it; and afterwards, how that compared.

    tokens      the training rows' tokens (the model's chat template, cut at max_seq_len) over the rows the run's
                steps will draw: whole epochs exactly, a partial epoch at the mean row length
    speed       throughput.py: a short measured probe on this machine, or a GPU class's nominal figure
    time        tokens ÷ speed + evaluations ÷ evaluation speed (+ the probe's measured start-up), divided by
                gpus × SCALING_EFFICIENCY when the run is spread over several GPUs
    cost        GPU-hours (time × gpus) × training.price_per_hour, or the class's typical price

Model loading and saving are left out, as they are out of a run's `train_runtime_s`; a rented machine bills them.

    >>> forecast_run(config, gpu="A100-80GB", gpus=4).to_text()
    >>> forecast_vs_actual("runs/20250101-120000-tiny", forecast=before)
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ft_jupyter.config import ConfigError, RunConfig
from ft_jupyter.evaluate.throughput import (
    GPU_CLASSES,
    PRICE_NOTE,
    GpuClass,
    Throughput,
    gpu_class,
    measure_throughput,
    nominal_throughput,
)
from ft_jupyter.models.data_tokens import DataTokens, data_tokens

__all__ = ["GPU_CLASSES", "Forecast", "ForecastCheck", "forecast_run", "forecast_vs_actual"]

# Assumed share of linear speed-up each added GPU delivers (DDP over NVLink/PCIe on one machine keeps ~90 %).
SCALING_EFFICIENCY = 0.9
DEFAULT_GPU = "A100-80GB"
GROUP_MEGABATCH = 50  # transformers' group_by_length sorts megabatches of 50 × batch rows by length
PADDING_SHUFFLES = 8


@dataclass(frozen=True)
class TokenPlan:
    steps: int
    rows: int  # rows drawn, over all GPUs
    tokens: int  # non-padding tokens drawn (what events' tokens_seen counts)
    padded_tokens: int  # tokens the GPUs compute on: each batch padded to its longest row
    evaluations: int
    eval_tokens: int  # per evaluation
    eval_padded_tokens: int
    text: str


def _padded(lengths: list[int], batch: int) -> int:
    return sum(len(chunk) * max(chunk) for chunk in (lengths[i : i + batch] for i in range(0, len(lengths), batch)))


def padding_factor(lengths: list[int], batch: int, group_by_length: bool, seed: int) -> float:
    """Padded ÷ real tokens for random batches of `batch` rows (averaged over a few seeded shuffles)."""
    if not lengths:
        return 1.0
    rng, padded = random.Random(seed), 0
    for _ in range(PADDING_SHUFFLES):
        order = list(lengths)
        rng.shuffle(order)
        if group_by_length:
            size = GROUP_MEGABATCH * batch
            order = [n for i in range(0, len(order), size) for n in sorted(order[i : i + size], reverse=True)]
        padded += _padded(order, batch)
    return padded / (PADDING_SHUFFLES * sum(lengths))


def plan_tokens(config: RunConfig, data: DataTokens, gpus: int = 1) -> TokenPlan:
    """The rows and tokens a run of `config` on `gpus` processes draws, as the trainer's sampler draws them."""
    from ft_jupyter.train.translate import total_steps

    t = config.training
    lengths = data.kept(t.max_seq_len)
    if not lengths:
        raise ConfigError(
            f"No training row keeps any answer within training.max_seq_len = {t.max_seq_len} (or the "
            "training split is empty), so nothing would train; raise max_seq_len or check the data."
        )
    # The kit counts steps before the trainer drops answerless rows; with epochs, each process takes its share.
    steps = total_steps(config, len(data.train), gpus)
    per_rank = math.ceil(len(lengths) / gpus)  # each epoch, the distributed sampler gives each rank this many
    steps_per_epoch = math.ceil(math.ceil(per_rank / t.batch_size) / t.grad_accum)
    epochs, rest = divmod(steps, steps_per_epoch)
    partial = min(rest * t.batch_size * t.grad_accum, per_rank) * gpus
    mean = sum(lengths) / len(lengths)
    epoch_tokens = sum(lengths) * per_rank * gpus / len(lengths)
    rows = epochs * per_rank * gpus + partial
    tokens = round(epochs * epoch_tokens + partial * mean)
    factor = padding_factor(lengths, t.batch_size, t.group_by_length, t.seed)
    validation = [min(n, t.max_seq_len) for n in data.validation]
    evaluations = (steps // t.eval_steps if t.eval_steps else 1) if validation else 0
    approx = "" if data.exact else "≈"
    dropped = len(data.train) - len(lengths)
    kept = f"{len(lengths)} rows" + (f" ({dropped} with no answer left within max_seq_len dropped)" if dropped else "")
    text = (
        f"{steps} steps × {t.batch_size * t.grad_accum * gpus} rows = {epochs} epoch"
        f"{'s' if epochs != 1 else ''} of {kept}"
        + (f" + {partial} rows" if partial else "")
        + f" = {rows:,} rows × {approx}{mean:,.1f} tokens (cut at {t.max_seq_len}) = {tokens:,} tokens; "
        f"padding to each batch's longest row × {factor:.2f}"
    )
    return TokenPlan(
        steps,
        rows,
        tokens,
        round(tokens * factor),
        evaluations,
        sum(validation),
        _padded(validation, t.batch_size),
        text,
    )


@dataclass(frozen=True)
class Forecast:
    model: str
    method: str
    gpu: str  # GPU class (nominal) or the device the probe ran on
    gpus: int
    source: str  # "nominal" | "probe"
    plan: TokenPlan
    throughput: Throughput
    train_s: float  # one device, training
    eval_s: float  # one device, all evaluations
    wall_s: float  # on `gpus` devices, start-up included
    gpu_hours: float
    price_per_hour: float | None
    price_source: str
    scaling_efficiency: float
    notes: tuple[str, ...] = ()

    @property
    def cost(self) -> float | None:
        return None if self.price_per_hour is None else self.gpu_hours * self.price_per_hour

    @property
    def tokens_per_second(self) -> float:
        """Non-padding training tokens a second on one device (the dashboard's tokens/s)."""
        return self.plan.tokens / self.train_s if self.train_s else 0.0

    def to_json(self) -> dict[str, Any]:
        p = self.plan
        return {
            "headline": self.headline(),
            "model": self.model,
            "method": self.method,
            "gpu": self.gpu,
            "gpus": self.gpus,
            "source": self.source,
            "steps": p.steps,
            "rows": p.rows,
            "tokens": p.tokens,
            "padded_tokens": p.padded_tokens,
            "evaluations": p.evaluations,
            "eval_tokens": p.eval_tokens,
            "tokens_text": p.text,
            "tokens_per_second": self.tokens_per_second,
            "train_s": self.train_s,
            "eval_s": self.eval_s,
            "overhead_s": self.throughput.overhead_s,
            "wall_s": self.wall_s,
            "gpu_hours": self.gpu_hours,
            "price_per_hour": self.price_per_hour,
            "price_source": self.price_source,
            "cost": self.cost,
            "scaling_efficiency": self.scaling_efficiency,
            "how": list(self.throughput.lines),
            "notes": list(self.notes),
        }

    def headline(self) -> str:
        where = f"{self.gpus} × {self.gpu}" if self.gpus > 1 else self.gpu
        money = f", ≈ ${self.cost:,.2f}" if self.cost is not None else ""
        return (
            f"≈ {_duration(self.wall_s)} on {where} ({self.source}), {self.gpu_hours:,.3g} "
            f"{'GPU' if self.source == 'nominal' else 'device'}-hours{money}"
        )

    def to_text(self) -> str:
        lines = [
            f"Forecast for {self.model} ({self.method}): {self.headline()}",
            f"  tokens   {self.plan.text}",
            f"  speed    {self.tokens_per_second:,.0f} tokens/s per device",
        ]
        lines += [f"           {line}" for line in self.throughput.lines]
        evals = f" + {self.plan.evaluations} evaluation(s) {self.eval_s:,.1f} s" if self.plan.evaluations else ""
        start = f" + start-up {self.throughput.overhead_s:,.1f} s" if self.throughput.overhead_s else ""
        spread = f", ÷ ({self.gpus} GPUs × {self.scaling_efficiency} scaling efficiency)" if self.gpus > 1 else ""
        lines.append(f"  time     training {self.train_s:,.1f} s{evals}{start}{spread} = {_duration(self.wall_s)}")
        if self.price_per_hour is None:
            lines.append("  cost     set training.price_per_hour to see it")
        else:
            lines.append(
                f"  cost     {self.gpu_hours:,.4g} h × ${self.price_per_hour:g}/h = ${self.cost:,.2f} "
                f"({self.price_source})"
            )
        return "\n".join(lines + [f"  note: {n}" for n in self.notes])

    def __str__(self) -> str:
        return self.to_text()

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython shows the text, not the fields
        printer.text(str(self))


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def forecast_run(
    config: RunConfig, *, gpu: str | None = None, gpus: int = 1, probe: bool = False, probe_steps: int = 3
) -> Forecast:
    """Time and cost of training `config` on `gpus` GPUs: nominal on GPU class `gpu` (default A100-80GB), or
    measured on this machine with `probe=True` (trains probe_steps + 1 steps first). ConfigError when the data is
    not here."""
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 1:
        raise ConfigError(f"gpus = {gpus!r}: give the number of GPUs as a whole number ≥ 1.")
    if probe and gpu is not None:
        raise ConfigError(f"gpu = {gpu!r} with probe: the probe measures this machine; drop one of the two.")
    data = data_tokens(config)
    plan = plan_tokens(config, data, gpus)
    notes = [] if data.exact else ["token counts approximated from characters: this model's tokenizer is not here"]
    chosen = None if probe else gpu_class(gpu or DEFAULT_GPU)
    if chosen is None:
        speed = measure_throughput(config, steps=probe_steps)
    else:
        speed = nominal_throughput(config, chosen, plan.padded_tokens / plan.rows)
        notes.append(
            "nominal: from an assumed MFU, not a measurement; measure with the probe on the target machine when you can"
        )
    if gpus > 1 and config.training.max_steps > 0:
        notes.append(f"max_steps counts optimizer steps, so {gpus} GPUs draw {gpus}× the rows per step")
    train, evals = (plan.padded_tokens, plan.eval_padded_tokens) if speed.padded else (plan.tokens, plan.eval_tokens)
    train_s = train / speed.tokens_per_second
    eval_s = plan.evaluations * evals / speed.eval_tokens_per_second
    efficiency = SCALING_EFFICIENCY if gpus > 1 else 1.0
    wall = (train_s + eval_s) / (gpus * efficiency) + speed.overhead_s
    price, price_source = _price(config, chosen)
    return Forecast(
        config.model.name,
        config.method.method,
        speed.device,
        gpus,
        speed.source,
        plan,
        speed,
        train_s,
        eval_s,
        wall,
        wall * gpus / 3600,
        price,
        price_source,
        efficiency,
        tuple(notes),
    )


def _price(config: RunConfig, gpu: GpuClass | None) -> tuple[float | None, str]:
    if config.training.price_per_hour:
        return config.training.price_per_hour, "training.price_per_hour"
    if gpu is not None:
        return gpu.price_per_hour, f"{gpu.name}: {PRICE_NOTE}"
    return None, ""


@dataclass(frozen=True)
class ForecastCheck:
    run_id: str
    forecast: Forecast
    actual_s: float  # the training loop: trainer.train() from start to end, evaluations included
    actual_tokens: int
    actual_device_hours: float  # as billed: loading and saving included
    steps: int

    @property
    def time_ratio(self) -> float:
        """actual ÷ forecast time: above 1, the run took longer than forecast."""
        return self.actual_s / self.forecast.wall_s

    @property
    def token_ratio(self) -> float:
        return self.actual_tokens / self.forecast.plan.tokens

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "forecast": self.forecast.to_json(),
            "actual_s": self.actual_s,
            "actual_tokens": self.actual_tokens,
            "actual_device_hours": self.actual_device_hours,
            "steps": self.steps,
            "time_ratio": self.time_ratio,
            "token_ratio": self.token_ratio,
        }

    def to_text(self) -> str:
        f = self.forecast
        return "\n".join(
            [
                f"Run {self.run_id}, {self.steps} steps: forecast vs actual",
                f"  training time  {_duration(f.wall_s)} forecast ({f.source}, {f.gpu}) vs {_duration(self.actual_s)} "
                f"actual = × {self.time_ratio:.2f}",
                f"  tokens         {f.plan.tokens:,} forecast vs {self.actual_tokens:,} actual "
                f"= × {self.token_ratio:.3f}",
                f"  device-hours   {f.gpu_hours:.4g} forecast (training loop) vs {self.actual_device_hours:.4g} billed "
                "(loading and saving included)",
            ]
        )

    def __str__(self) -> str:
        return self.to_text()

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))


def forecast_vs_actual(
    run: Any,
    *,
    runs_dir: str | Path = "runs",
    forecast: Forecast | None = None,
    gpu: str | None = None,
    probe: bool = False,
) -> ForecastCheck:
    """Compare a finished run with `forecast` (made before it), or with one made now from its config: nominal
    for `gpu`, or `probe=True` to measure this machine. A stopped run is compared over the steps it trained."""
    from ft_jupyter.train.store import SAVED_END_STATES, RunDir, RunStore

    path = Path(str(run)).expanduser()
    run_dir = RunDir(path) if (path / "config.yaml").is_file() else RunStore(runs_dir).get(str(run))
    events, _ = run_dir.read_events()
    end = next((e for e in reversed(events) if e["type"] in SAVED_END_STATES), None)
    if end is None:
        raise ConfigError(
            f"Run {run_dir.run_id} has not finished (state: {run_dir.status().get('state')}); compare "
            "it with its forecast once it finishes or is stopped."
        )
    steps = [e for e in events if e["type"] == "step"]
    config = run_dir.config()
    if end["type"] == "stopped":
        config = config.with_overrides({"training.max_steps": max(1, end["step"])})
    if forecast is None:
        started = next((e for e in events if e["type"] == "run_started"), {})
        if gpu is None and not probe:
            raise ConfigError(
                f"Run {run_dir.run_id} trained on {started.get('device', 'an unknown device')}: say "
                "what to compare with, a forecast made before it, gpu=<class> for the nominal "
                "figure, or probe=True to measure this machine."
            )
        forecast = forecast_run(config, gpu=gpu, gpus=int(started.get("num_devices", 1)), probe=probe)
    actual_s = end.get("train_runtime_s") or (steps[-1]["elapsed_s"] if steps else end["elapsed_s"])
    tokens = end.get("tokens_seen") or (steps[-1]["tokens_seen"] if steps else 0)
    return ForecastCheck(
        run_dir.run_id, forecast, float(actual_s), int(tokens), float(end.get("device_hours", 0.0)), int(end["step"])
    )
