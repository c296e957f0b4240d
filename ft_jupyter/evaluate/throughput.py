"""How many training tokens a second one device processes: nominal figures per GPU class, or a measured probe.

Nominal: tokens/s = peak dense tensor FLOP/s × MFU ÷ FLOPs per token, where
  forward FLOPs per token = 2 × (weights of every linear layer, head included, + LoRA adapters)
                            + 2 × layers × sequence × query width   (causal attention: QKᵀ and AV over s/2 keys)
  training = forward × 3 for full fine-tuning (backward computes input and weight gradients, 2 × forward), forward
             × 2 for LoRA/QLoRA/freeze (input gradients only) + 2 × trainable weights (their gradients), + one more
             forward with gradient checkpointing (each block is recomputed in backward).
MFU (model FLOPs utilisation) is assumed, not measured: 35 % is what well-tuned bf16 fine-tuning of 1-10 B models
reaches on A100/H100-class GPUs; small models and small batches reach far less, which is why the probe exists.
QLoRA dequantises every 4-bit weight in forward and backward: assumed to cost a third of the time on top.

Probe: a few real training steps of the config on this machine through `run_training`, read from events.jsonl.
"""

from __future__ import annotations

import itertools
import re
import statistics
from dataclasses import dataclass
from typing import Any

from ft_jupyter.config import ConfigError, RunConfig
from ft_jupyter.models.architecture import architecture
from ft_jupyter.models.data_tokens import data_tokens
from ft_jupyter.models.params import count_parameters

MFU = 0.35
QLORA_EFFICIENCY = 0.65  # assumed: share of LoRA's speed left after dequantising 4-bit weights
SMALL_MODEL = 1e9  # below this, the assumed MFU is optimistic and the forecast says so


@dataclass(frozen=True)
class GpuClass:
    name: str
    fit_name: str  # the matching entry of models.estimate.GPUS (memory fit)
    peak_tflops: float  # dense tensor-core bf16 (T4: fp16), no sparsity
    price_per_hour: float  # typical on-demand $ per GPU-hour; prices vary widely
    source: str


GPU_CLASSES = (
    GpuClass("T4", "T4 16 GB", 65.0, 0.35, "NVIDIA T4 datasheet: 65 TFLOPS FP16 mixed precision (no bf16: fp16)"),
    GpuClass("L4", "L4 24 GB", 121.0, 0.80, "NVIDIA L4 datasheet: 242 TFLOPS bf16 with sparsity, 121 dense"),
    GpuClass(
        "A10G",
        "A10G 24 GB",
        70.0,
        1.00,
        "AWS publishes no datasheet; ~70 TFLOPS bf16 dense in published A10 (125) vs A10G comparisons",
    ),
    GpuClass("A100-40GB", "A100 40 GB", 312.0, 1.50, "NVIDIA A100 datasheet: 312 TFLOPS bf16 dense (624 sparse)"),
    GpuClass("A100-80GB", "A100 80 GB", 312.0, 2.00, "NVIDIA A100 datasheet: 312 TFLOPS bf16 dense (624 sparse)"),
    GpuClass(
        "H100",
        "H100 80 GB",
        989.0,
        3.00,
        "NVIDIA H100 SXM datasheet: 1,979 TFLOPS bf16 with sparsity, 989 dense (PCIe card: 756)",
    ),
)
PRICE_NOTE = (
    "typical on-demand price from GPU clouds; hyperscalers charge up to 2-4× more, spot and commitments "
    "less: set training.price_per_hour to yours"
)


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_BY_KEY = {k: g for g in GPU_CLASSES for k in (_key(g.name), _key(g.fit_name), _key(g.name).removesuffix("gb"))}


def gpu_class(name: str) -> GpuClass:
    """The table entry for a GPU name as people write it ("A100-80GB", "a100 80 GB", "h100"); ConfigError if none."""
    found = _BY_KEY.get(_key(name))
    if found is None:
        raise ConfigError(
            f"gpu = {name!r} is not in the table of GPU classes; use one of "
            f"{', '.join(g.name for g in GPU_CLASSES)}, or measure this machine with the probe."
        )
    return found


def fitting_gpu(gpu_fit: list[dict[str, Any]]) -> str:
    """The first (smallest) GPU class the memory estimate fits on; the largest when none does."""
    fits = {g["name"] for g in gpu_fit if g["fits"]}
    return next((g.name for g in GPU_CLASSES if g.fit_name in fits), GPU_CLASSES[-1].name)


@dataclass(frozen=True)
class Throughput:
    tokens_per_second: float  # training tokens a second on one device
    eval_tokens_per_second: float  # evaluation
    overhead_s: float  # fixed start-up of the training loop (probe only; nominal: 0)
    device: str  # a GPU class, or what the probe ran on
    source: str  # "nominal" | "probe"
    padded: bool  # rates count padding tokens too (nominal: FLOPs are spent on them)
    lines: tuple[str, ...] = ()  # how the figure was reached


def flops_per_token(config: RunConfig, seq_len: float) -> tuple[float, float, str]:
    """(training FLOPs per token, forward FLOPs per token, the formula as text) for rows of `seq_len` tokens."""
    arch = architecture(config.model.name, config.model.trust_remote_code)
    counts = count_parameters(arch, config.method)
    linear = sum(lin.in_features * lin.out_features for lin in arch.linears)
    adapters = counts.total - counts.base
    width = arch.num_heads * arch.head_dim
    forward = 2 * (linear + adapters) + 2 * arch.num_layers * seq_len * width
    text = (
        f"forward 2 × ({linear:,} linear + {adapters:,} adapter weights) + 2 × {arch.num_layers} layers × "
        f"{seq_len:,.0f} tokens × {width} = {forward:,.0f}"
    )
    if config.method.method == "full":
        train, text = 3 * forward, text + "; training 3 × forward"
    else:
        train = 2 * forward + 2 * counts.trainable
        text += f"; training 2 × forward + 2 × {counts.trainable:,} trainable"
    if config.training.gradient_checkpointing:
        train, text = train + forward, text + " + 1 forward recomputed"
    return train, forward, text


def nominal_throughput(config: RunConfig, gpu: GpuClass, seq_len: float) -> Throughput:
    train, forward, formula = flops_per_token(config, seq_len)
    mfu = MFU * (QLORA_EFFICIENCY if config.method.method == "qlora" else 1.0)
    rate = gpu.peak_tflops * 1e12 * mfu
    qlora = f" ({MFU:.0%} × {QLORA_EFFICIENCY} for 4-bit dequantisation)" if config.method.method == "qlora" else ""
    lines = [
        f"{gpu.name}: {gpu.peak_tflops:g} TFLOPS peak × MFU {mfu:.2f}{qlora} ÷ {train:,.0f} FLOPs per token "
        "(padding included)",
        f"FLOPs per token: {formula}",
        f"peak from: {gpu.source}",
    ]
    params = architecture(config.model.name, config.model.trust_remote_code).params_total
    if params < SMALL_MODEL:
        lines.append(
            f"a {params / 1e6:,.0f} M-parameter model keeps a GPU far below {MFU:.0%} MFU (launch and "
            "per-step costs dominate): expect several times longer, and measure with the probe"
        )
    return Throughput(rate / train, rate / forward, 0.0, gpu.name, "nominal", True, tuple(lines))


def measure_throughput(config: RunConfig, steps: int = 3) -> Throughput:
    """Train `steps` + 1 real steps of `config` here (in a temporary runs folder) and time them.

    The first step is left out of the rate (allocation, kernel choice, the first batch); what it and the trainer's
    set-up cost beyond that rate comes back as `overhead_s`. Evaluation speed is timed on the closing evaluation.
    Model loading and saving are outside both, as they are outside a run's `train_runtime_s`."""
    import gc
    import tempfile

    from ft_jupyter.train.run import run_training

    if steps < 2:
        raise ConfigError(f"steps = {steps}: the probe needs at least 2 timed steps to measure a rate.")
    with tempfile.TemporaryDirectory(prefix="ft-jupyter-probe-") as folder:
        probe = config.with_overrides(
            {
                "runs_dir": folder,
                "name": "probe",
                "training.max_steps": steps + 1,
                "training.logging_steps": 1,
                "training.eval_steps": 0,
                "training.save_steps": 0,
                "training.early_stopping_patience": 0,
                "training.load_best_at_end": False,
            }
        )
        result = run_training(probe)
        events, _ = result.run_dir.read_events()
        device = next(e["device"] for e in events if e["type"] == "run_started")
        if device == "cuda":
            import torch

            device = torch.cuda.get_device_name()
        del result
        gc.collect()
    return _rates(events, probe, device)


def _rates(events: list[dict[str, Any]], config: RunConfig, device: str) -> Throughput:
    step_events = [e for e in events if e["type"] == "step"]
    finished = next(e for e in events if e["type"] == "finished")
    first, last = step_events[0], step_events[-1]
    seconds = last["elapsed_s"] - first["elapsed_s"]
    # The median step's rate: one step slowed by another process on a shared machine must not set the forecast.
    tps = statistics.median(
        (b["tokens_seen"] - a["tokens_seen"]) / (b["elapsed_s"] - a["elapsed_s"])
        for a, b in itertools.pairwise(step_events)
        if b["elapsed_s"] > a["elapsed_s"]
    )
    evaluation = next((e for e in events if e["type"] == "evaluation"), None)
    eval_s = evaluation["time"] - last["time"] if evaluation else 0.0
    limit = config.training.max_seq_len
    eval_tokens = sum(min(n, limit) for n in data_tokens(config).validation)
    eval_tps = eval_tokens / eval_s if eval_s > 0 and eval_tokens else 3 * tps
    overhead = max(0.0, finished["train_runtime_s"] - last["tokens_seen"] / tps - eval_s)
    timed = len(step_events) - 1
    lines = (
        f"probe on {device}: {timed} steps after the first, {last['tokens_seen'] - first['tokens_seen']:,} "
        f"tokens in {seconds:.2f} s; the median step ran {tps:,.0f} tokens/s",
        f"evaluation: {eval_tokens:,} tokens in {eval_s:.2f} s = {eval_tps:,.0f} tokens/s"
        if evaluation
        else "evaluation: no validation split, taken as 3 × training speed",
        f"start-up of the training loop beyond that rate (set-up, first step): {overhead:.2f} s",
    )
    return Throughput(tps, eval_tps, overhead, device, "probe", False, lines)
