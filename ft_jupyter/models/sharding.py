"""Training memory per GPU when a run is spread over several GPUs, and what the GPUs send each other per step.

N GPUs, each running `batch_size` rows (the batch is per device, so activations and the loss head never shrink):
  ddp    every GPU holds everything. Gradients are all-reduced through DDP's 25 MiB buckets, which cover every
         trainable weight and, with gradient_as_bucket_view=False (what accelerate and the Trainer leave), are a
         second copy of all gradients.
  zero1  DeepSpeed ZeRO stage 1: optimizer states split N ways.      zero2: gradients split too.
  zero3  parameters split too; gathered weights stay live while they will be reused soon, up to DeepSpeed's
         max_live_parameters (so a model under 1e9 parameters ends up whole on every GPU with the defaults).
         Every ZeRO stage allocates a whole reduce bucket (reduce_bucket_size, default 5e8 values).
  fsdp   PyTorch FSDP2 full shard wrapping each decoder block: parameters, gradients and optimizer split N ways;
         the root unit (embeddings, head, final norm) stays gathered, plus the current and the prefetched block.
Frozen base weights split only under zero3 and fsdp; a 4-bit base splits its packed storage there (which needs
bnb_4bit_quant_storage = the compute dtype). DeepSpeed (bf16/fp16) and accelerate's FSDP keep an fp32 copy of every
trainable weight held in 16 bits and run the optimizer on it, so its moments are fp32 too ("master copy"); LoRA
adapters are fp32 already and gain nothing. Offload (ZeRO-Offload, FSDP CPUOffload) moves optimizer state (and
under zero3 the parameters; under fsdp parameters and gradients) to CPU RAM, reported apart.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from ft_jupyter.config import ConfigError, RunConfig
from ft_jupyter.models.architecture import Architecture, _prod
from ft_jupyter.models.memory import BYTES, GIB, MIB, MemoryBreakdown, MemoryTerm, nf4_bytes_per_weight, optimizer_term
from ft_jupyter.models.params import ParamCount, lora_targets

STRATEGIES = ("ddp", "zero1", "zero2", "zero3", "fsdp")
LABELS = {"ddp": "DDP", "zero1": "ZeRO-1", "zero2": "ZeRO-2", "zero3": "ZeRO-3", "fsdp": "FSDP full shard"}
OFFLOADING = ("zero1", "zero2", "zero3", "fsdp")
DDP_BUCKET_MIB = 25  # torch DDP's bucket_cap_mb default
# DeepSpeed's defaults, which the launcher's JSON (train.launch_configs) leaves in place: with contiguous_gradients
# every GPU allocates a whole reduce bucket of this many values, however few weights train; under ZeRO-3 gathered
# weights stay live until the next use is further away than max_reuse_distance, up to max_live_parameters.
DS_REDUCE_BUCKET = 500_000_000
DS_MAX_LIVE = 1_000_000_000


@dataclass(frozen=True)
class ShardInputs:
    """What splitting needs beyond the one-GPU terms: the trainable count and how the model's weights group."""

    trainable: int
    trainable_bytes: int  # bytes per trainable weight as the model holds it (4 for LoRA adapters)
    optimizer_fp32: MemoryTerm  # the optimizer's state if the trainable weights were fp32
    root_bytes: int  # weights outside the decoder blocks (embeddings, head, final norm), as stored
    block_bytes: int  # the largest decoder block's weights and adapters, as stored
    params_total: int  # base parameters + adapters (what ZeRO-3's live-parameter limit counts)
    compute_bytes: int  # bytes per value of the compute dtype (DeepSpeed's reduce bucket)
    quantization: str  # none | 4bit | 8bit
    grad_accum: int


@dataclass(frozen=True)
class Communication:
    bytes_per_step: int  # sent by each GPU per optimizer step
    formula: str
    sentence: str

    def to_json(self) -> dict[str, Any]:
        return {
            "bytes_per_step": self.bytes_per_step,
            "gib_per_step": round(self.bytes_per_step / GIB, 3),
            "formula": self.formula,
            "sentence": self.sentence,
        }


@dataclass(frozen=True)
class ShardedMemory:
    strategy: str
    gpus: int
    offload: bool
    per_gpu: MemoryBreakdown  # what each GPU holds
    single: MemoryBreakdown  # the one-GPU breakdown it was split from
    cpu_terms: tuple[MemoryTerm, ...] = ()  # offloaded to CPU RAM, per process
    communication: Communication | None = None
    notes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return LABELS[self.strategy] + (" + CPU offload" if self.offload else "")

    @property
    def cpu_bytes(self) -> int:
        """CPU RAM the offloaded state takes per process (× gpus for all processes on one machine)."""
        return sum(t.bytes for t in self.cpu_terms)

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "label": self.label,
            "gpus": self.gpus,
            "offload": self.offload,
            "per_gpu_total_bytes": self.per_gpu.total_bytes,
            "single_gpu_total_bytes": self.single.total_bytes,
            "cpu_terms": [t.to_json() for t in self.cpu_terms],
            "cpu_bytes_per_process": self.cpu_bytes,
            "cpu_bytes_all_processes": self.cpu_bytes * self.gpus,
            "communication": self.communication.to_json() if self.communication else None,
            "notes": list(self.notes),
        }

    def summary_lines(self) -> list[str]:
        lines = []
        if self.cpu_terms:
            lines.append(
                f"  CPU RAM for offloaded state: {_size(self.cpu_bytes)} per process, "
                f"{_size(self.cpu_bytes * self.gpus)} for all {self.gpus} on one machine ("
                + ", ".join(f"{t.name} {_size(t.bytes)}" for t in self.cpu_terms)
                + ")"
            )
        if self.communication:
            lines.append(
                f"  traffic: {_size(self.communication.bytes_per_step)} sent per GPU per optimizer step = "
                f"{self.communication.formula}"
            )
            lines.append(f"    {self.communication.sentence}")
        return lines + [f"  note: {n}" for n in self.notes]


def _size(n: float) -> str:
    return f"{n / GIB:,.2f} GiB" if n >= GIB / 10 else f"{n / MIB:,.1f} MiB"


def check_strategy(gpus: Any, strategy: Any, offload: Any) -> None:
    """ConfigError naming the bad value and what is allowed."""
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 1:
        raise ConfigError(f"gpus = {gpus!r}: give the number of GPUs (processes) as a whole number ≥ 1.")
    if strategy not in STRATEGIES:
        raise ConfigError(
            f"strategy = {strategy!r} is not known; use one of {', '.join(STRATEGIES)} (fsdp = full shard, FSDP2)."
        )
    if not isinstance(offload, bool):
        raise ConfigError(f"offload = {offload!r}: give true or false.")
    if offload and strategy not in OFFLOADING:
        raise ConfigError(
            "offload = true needs a sharded strategy (zero1, zero2, zero3 or fsdp): DDP cannot move "
            "optimizer state to the CPU."
        )


def _stored_bytes(arch: Architecture, config: RunConfig, weights_dtype: str) -> dict[str, int]:
    """Bytes of each parameter as the weights term stores it (4-bit/8-bit linears packed, the rest fp32)."""
    mode = config.quantization.mode
    if mode == "none":
        b = BYTES[weights_dtype]
        return {name: _prod(shape) * b for name, shape in arch.params}
    packed = {lin.name + ".weight": lin for lin in arch.linears if lin.name != arch.output_layer}
    per_weight = nf4_bytes_per_weight(config)[0] if mode == "4bit" else 1.0
    out = {}
    for name, shape in arch.params:
        lin = packed.get(name)
        if lin is None:
            out[name] = _prod(shape) * 4
        else:
            scales = 4 * lin.out_features if mode == "8bit" else 0
            out[name] = math.ceil(_prod(shape) * per_weight) + scales
    return out


def shard_inputs(arch: Architecture, counts: ParamCount, config: RunConfig, breakdown: MemoryBreakdown) -> ShardInputs:
    """What `shard_breakdown` needs to know about this model and config beyond the terms of `breakdown`."""
    stored = _stored_bytes(arch, config, breakdown.weights_dtype)
    blocks: dict[int, int] = {}
    root = 0
    for name, nbytes in stored.items():
        layer = arch.layer_of(name)
        if layer is None:
            root += nbytes
        else:
            blocks[layer] = blocks.get(layer, 0) + nbytes
    if config.method.uses_lora:  # adapters live in the unit of the layer they adapt, fp32
        for name, n_in, n_out, _ in lora_targets(arch, config.method)[0]:
            adapter = 4 * (config.method.r * (n_in + n_out) + (n_out if config.method.use_dora else 0))
            layer = arch.layer_of(name)
            if layer is None:
                root += adapter
            else:
                blocks[layer] = blocks.get(layer, 0) + adapter
    trainable_bytes = 4 if config.method.uses_lora else BYTES[breakdown.weights_dtype]
    return ShardInputs(
        trainable=counts.trainable,
        trainable_bytes=trainable_bytes,
        optimizer_fp32=optimizer_term(config.training.optimizer, counts.tensors, 4),
        root_bytes=root,
        block_bytes=max(blocks.values(), default=0),
        params_total=counts.total,
        compute_bytes=BYTES[breakdown.precision],
        quantization=config.quantization.mode,
        grad_accum=config.training.grad_accum,
    )


def _split(term: MemoryTerm, n: int, why: str, unit: str) -> MemoryTerm:
    return MemoryTerm(
        term.name, math.ceil(term.bytes / n), f"{_size(term.bytes)} / {n} {unit} ({why}); {term.formula}", term.note
    )


def _state_terms(single: MemoryBreakdown, inputs: ShardInputs, strategy: str) -> list[MemoryTerm]:
    """The optimizer's terms as each engine keeps them, before splitting."""
    optimizer = single.term("optimizer")
    if strategy == "ddp" or inputs.trainable_bytes >= 4:
        return [optimizer]
    master = MemoryTerm(
        "master copy",
        inputs.trainable * 4,
        f"{inputs.trainable:,} trainable × 4 B (fp32 copy)",
        "DeepSpeed and FSDP mixed precision keep an fp32 copy of each 16-bit trainable weight",
    )
    fp32 = inputs.optimizer_fp32
    return [
        master,
        MemoryTerm("optimizer", fp32.bytes, fp32.formula, "states in fp32: the optimizer steps the fp32 copy"),
    ]


def _buffers(single: MemoryBreakdown, inputs: ShardInputs, strategy: str) -> list[MemoryTerm]:
    """What each engine allocates on top of the model's own terms to communicate."""
    grads = single.term("gradients").bytes
    if strategy == "ddp":
        return [
            MemoryTerm(
                "grad buckets",
                grads,
                f"{_size(grads)}: {DDP_BUCKET_MIB} MiB buckets covering every gradient",
                "gradient_as_bucket_view=False (the default) keeps them apart from .grad",
            )
        ]
    if strategy == "fsdp":
        gathered = inputs.root_bytes + 2 * inputs.block_bytes
        return [
            MemoryTerm(
                "gathered",
                gathered,
                f"root unit {_size(inputs.root_bytes)} + 2 blocks × "
                f"{_size(inputs.block_bytes)} (current and prefetched), unsplit",
                "FSDP all-gathers each wrapped block before using it; the root unit stays gathered",
            )
        ]
    b = inputs.compute_bytes
    terms = [
        MemoryTerm(
            "comm buffers",
            DS_REDUCE_BUCKET * b,
            f"reduce bucket {DS_REDUCE_BUCKET:,} values × {b} B",
            "DeepSpeed's default reduce_bucket_size, allocated whole; set it lower in the DeepSpeed JSON "
            "for small runs",
        )
    ]
    if strategy == "zero3":
        split = sum(t.bytes for t in single.terms if t.name in ("weights", "adapters"))
        live = min(inputs.params_total, DS_MAX_LIVE)
        terms.insert(
            0,
            MemoryTerm(
                "gathered",
                split * live // max(1, inputs.params_total),
                f"weights {_size(split)} × {live:,} / {inputs.params_total:,} parameters live",
                "ZeRO-3 keeps gathered weights it will reuse soon, up to max_live_parameters "
                f"{DS_MAX_LIVE:,} (the default): a model under that stays whole on every GPU",
            ),
        )
    return terms


def _communication(single: MemoryBreakdown, inputs: ShardInputs, strategy: str, n: int) -> Communication:
    grads = single.term("gradients").bytes
    ring = (n - 1) / n
    if n == 1:
        return Communication(
            0,
            "one GPU: nothing to exchange",
            "Sharding on one GPU saves nothing; it only pays off with offload or more GPUs.",
        )
    if strategy == "ddp":
        return Communication(
            round(2 * ring * grads),
            f"2 × ({n}−1)/{n} × gradients {_size(grads)}",
            "DDP all-reduces the gradients once per optimizer step (no_sync while accumulating).",
        )
    if strategy in ("zero1", "zero2"):
        weights = inputs.trainable * inputs.trainable_bytes
        reduces = inputs.grad_accum if strategy == "zero2" else 1
        sent = round(ring * (reduces * grads + weights))
        every = "; ZeRO-2 reduces at every micro-batch." if reduces > 1 else "."
        return Communication(
            sent,
            f"({n}−1)/{n} × ({reduces} × gradients {_size(grads)} reduce-scattered + "
            f"updated weights {_size(weights)} all-gathered)",
            "About DDP's volume: each GPU gets the summed gradients of its shard, steps it, and "
            "shares the updated weights" + every,
        )
    split = [t for t in single.terms if t.name in ("weights", "adapters")]
    if inputs.quantization == "8bit":
        split = [t for t in split if t.name != "weights"]
    params = sum(t.bytes for t in split)
    sent = round(inputs.grad_accum * ring * (2 * params + grads))
    ddp = 2 * ring * grads
    ratio = f"{sent / ddp:.1f}× DDP's volume" if ddp else "DDP would send nothing"
    micro = f"{inputs.grad_accum} micro-batches × " if inputs.grad_accum > 1 else ""
    return Communication(
        sent,
        f"{micro}({n}−1)/{n} × (2 × parameters {_size(params)} all-gathered in forward and "
        f"backward + gradients {_size(grads)} reduce-scattered)",
        f"{ratio}: every micro-batch gathers the split weights twice and reduce-scatters the "
        "gradients; 1.5× DDP for a full fine-tune, far more for LoRA, whose whole frozen base "
        "travels while only adapter gradients come back.",
    )


def shard_breakdown(
    breakdown: MemoryBreakdown, *, gpus: int, strategy: str, offload: bool = False, inputs: ShardInputs
) -> ShardedMemory:
    """The per-GPU terms of `breakdown` under `strategy` on `gpus` GPUs; one GPU with ddp is `breakdown` unchanged."""
    check_strategy(gpus, strategy, offload)
    if strategy == "ddp" and gpus == 1:
        return ShardedMemory(strategy, 1, False, breakdown, breakdown)
    n, label = gpus, LABELS[strategy]
    unit = "GPUs" if breakdown.device == "cuda" else "processes"
    shard_params = strategy in ("zero3", "fsdp")
    shard_grads = strategy in ("zero2", "zero3", "fsdp")
    to_cpu = {"optimizer", "master copy"} if offload else set()
    if offload and strategy == "zero3":
        to_cpu |= {"weights", "adapters"}
    if offload and strategy == "fsdp":
        to_cpu |= {"weights", "adapters", "gradients"}
    notes = []
    gpu_terms, cpu_terms = [], []
    for term in breakdown.terms:
        parts = _state_terms(breakdown, inputs, strategy) if term.name == "optimizer" else [term]
        for part in parts:
            if part.name in ("optimizer", "master copy") and strategy != "ddp":
                part = _split(part, n, f"{label} splits optimizer state", unit)
            elif part.name == "gradients" and shard_grads:
                part = _split(part, n, f"{label} splits gradients", unit)
            elif part.name in ("weights", "adapters") and shard_params:
                if part.name == "weights" and inputs.quantization == "8bit":
                    notes.append("8-bit (LLM.int8) weights cannot be split; each GPU holds the whole base.")
                else:
                    part = _split(part, n, f"{label} splits parameters", unit)
            if part.name in to_cpu:
                cpu_terms.append(part)
                part = MemoryTerm(part.name, 0, f"0 on the GPU: offloaded to CPU RAM ({_size(part.bytes)})", part.note)
            gpu_terms.append(part)
        if term.name == "optimizer":
            gpu_terms += _buffers(breakdown, inputs, strategy)
    if shard_params and inputs.quantization == "4bit":
        notes.append(
            "The 4-bit base splits only when its packed storage is a float type: bnb_4bit_quant_storage = "
            "the compute dtype (without it accelerate's FSDP keeps the 4-bit weights whole on every GPU)."
        )
    per_gpu = dataclasses.replace(breakdown, terms=tuple(gpu_terms))
    return ShardedMemory(
        strategy,
        n,
        offload,
        per_gpu,
        breakdown,
        tuple(cpu_terms),
        _communication(breakdown, inputs, strategy, n),
        tuple(notes),
    )
