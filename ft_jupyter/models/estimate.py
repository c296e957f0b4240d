"""Pre-flight estimates from a RunConfig alone: parameters, trainable parameters, training memory and which GPUs
it fits. Offline, no weights: the model is built on the meta device (see models.architecture).

    >>> est = estimate_run(RunConfig.load("run.yaml"))
    >>> est.params_trainable, est.memory.total_bytes, [g["name"] for g in est.gpu_fit if g["fits"]]
    >>> estimate_run(config, gpus=4, strategy="zero3").memory.total_bytes   # per GPU (models.sharding)
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Any

from ft_jupyter.config import RunConfig
from ft_jupyter.models.architecture import Architecture, architecture, linear_module_names
from ft_jupyter.models.loading import local_tokenizer
from ft_jupyter.models.memory import GIB, MemoryBreakdown, memory_breakdown
from ft_jupyter.models.params import ParamCount, count_parameters
from ft_jupyter.models.sharding import ShardedMemory, check_strategy, shard_breakdown, shard_inputs

__all__ = ["GPUS", "RunEstimate", "estimate_run", "linear_module_names"]

# (name, usable GiB as the driver reports it): marketing "16 GB" on a T4 is 15 GiB free to PyTorch.
GPUS = (
    ("T4 16 GB", 15.0),
    ("L4 24 GB", 22.5),
    ("A10G 24 GB", 22.5),
    ("RTX 4090 24 GB", 24.0),
    ("A100 40 GB", 39.5),
    ("A100 80 GB", 79.2),
    ("H100 80 GB", 79.6),
)
TIGHT_FRACTION = 0.10  # less headroom than this: fragmentation and long batches can still run out


@dataclass(frozen=True)
class RunEstimate:
    model: str
    source: str  # where the model's shape came from
    license: str | None
    params_total: int
    params_trainable: int
    trainable_percent: float
    params: ParamCount = field(repr=False)
    architecture: Architecture = field(repr=False)
    memory: MemoryBreakdown = field(repr=False)  # per GPU (per process) on `memory.device`
    gpu_fit: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seq_len_note: str = ""
    sharding: ShardedMemory | None = field(default=None, repr=False)  # None: one process

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "source": self.source,
            "license": self.license,
            "params_total": self.params_total,
            "params_trainable": self.params_trainable,
            "trainable_percent": round(self.trainable_percent, 4),
            "params": self.params.to_json(),
            "architecture": self.architecture.to_json(),
            "memory": self.memory.to_json(),
            "gpu_fit": self.gpu_fit,
            "warnings": list(self.warnings),
            "seq_len_note": self.seq_len_note,
            "sharding": self.sharding.to_json() if self.sharding else None,
        }

    def to_text(self) -> str:
        arch, mem = self.architecture, self.memory
        lines = [
            f"{self.model}  ({arch.class_name}; {self.source}; license: {self.license or 'unknown'})",
            f"  parameters   {self.params.base:>15,}   "
            + ", ".join(f"{k} {v / 1e6:,.1f} M" for k, v in arch.groups.items() if v)
            + ("   (embeddings tied to the head)" if arch.tied_embeddings else ""),
            f"  trainable    {self.params_trainable:>15,}   ({self.trainable_percent:.3f} % of "
            f"{self.params_total:,}{' with adapters' if self.params_total != self.params.base else ''})",
        ]
        lines += [f"               {line}" for line in self.params.lines]
        unit = "GPU" if mem.device == "cuda" else "process"
        where = (
            f"per {unit} on {self.sharding.gpus} × {mem.device}, {self.sharding.label}"
            if self.sharding
            else f"on {mem.device}"
        )
        lines.append(
            f"  memory {where} ({mem.precision} compute, {mem.weights_dtype} weights), batch "
            f"{mem.batch_size} × {mem.seq_len} tokens" + (f"  [{self.seq_len_note}]" if self.seq_len_note else "")
        )
        for term in mem.terms:
            lines.append(f"    {term.name:<12} {term.bytes / GIB:8.3f} GiB   {term.formula}")
        lines.append(
            f"    {'total':<12} {mem.total_bytes / GIB:8.3f} GiB"
            + (f"   (one {unit} alone: {self.sharding.single.total_bytes / GIB:.3f} GiB)" if self.sharding else "")
        )
        if self.sharding:
            lines += self.sharding.summary_lines()
        fits = [
            f"{g['name']} ({g['headroom_gib']:+.1f} GiB{', tight' if g['tight'] else ''})"
            for g in self.gpu_fit
            if g["fits"]
        ]
        lines.append("  fits on: " + (", ".join(fits) if fits else "none of the common single GPUs"))
        lines += [f"  ! {w}" for w in self.warnings]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython shows the table, not the fields
        printer.text(str(self))


def gpu_fit(total_bytes: int) -> list[dict[str, Any]]:
    need = total_bytes / GIB
    return [
        {
            "name": name,
            "memory_gib": gib,
            "fits": need <= gib,
            "headroom_gib": round(gib - need, 2),
            "tight": need <= gib and (gib - need) < TIGHT_FRACTION * gib,
        }
        for name, gib in GPUS
    ]


@dataclass(frozen=True)
class RowTokens:
    longest_row: int  # tokens of the longest training conversation with the chat template
    longest_answer: int  # tokens of the longest assistant part (what assistant-only loss trains on)
    exact: bool = True  # False: approximated from characters (no tokenizer for this model here)
    num_labels: int | None = None  # distinct labels in the data (classification-style data), else None


# Without the model's tokenizer: English BPE averages ~4 characters a token; 3 keeps the guess on the safe side,
# plus a few tokens of role markers per message.
CHARS_PER_TOKEN = 3
TOKENS_PER_MESSAGE = 8


_ROWS: dict[tuple, RowTokens | None] = {}
_ROWS_LOCK = threading.Lock()


def _count_tokens(tokenizer, train) -> RowTokens:
    texts = [tokenizer.apply_chat_template(list(e.messages), tokenize=False) for e in train]
    rows = tokenizer(texts, add_special_tokens=False)["input_ids"]
    answers = [[m["content"] for m in e.messages if m["role"] == "assistant"] for e in train]
    flat = tokenizer([a for turn in answers for a in turn], add_special_tokens=False)["input_ids"]
    sizes, i = [], 0
    for turn in answers:  # + 1 per answer: the end-of-turn token is trained too
        sizes.append(sum(len(ids) + 1 for ids in flat[i : i + len(turn)]))
        i += len(turn)
    return RowTokens(max(len(r) for r in rows), max(sizes))


def _approx_tokens(messages) -> int:
    return sum(-(-len(m["content"]) // CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE for m in messages)


def row_tokens(config: RunConfig) -> RowTokens | None:
    """Token counts of the training rows with the model's chat template (approximated from characters when its
    tokenizer is not on this machine), or None when the data is not. Cached per data and model settings."""
    key = (config.model, repr(config.data), config.training.seed)
    with _ROWS_LOCK:
        if key in _ROWS:
            return _ROWS[key]
    from ft_jupyter.config import ConfigError
    from ft_jupyter.data.prepare import prepare

    try:
        data = prepare(config.data, seed=config.training.seed)
        train, labels = data.train, len(data.labels) if data.labels else None
    except ConfigError:  # data not available here: size by max_seq_len
        train, labels = [], None
    tokenizer = local_tokenizer(config.model) if train else None
    found = None
    if tokenizer is not None and tokenizer.chat_template:
        found = dataclasses.replace(_count_tokens(tokenizer, train), num_labels=labels)
    elif train:
        found = RowTokens(
            max(_approx_tokens(e.messages) for e in train),
            max(_approx_tokens([m for m in e.messages if m["role"] == "assistant"]) for e in train),
            exact=False,
            num_labels=labels,
        )
    with _ROWS_LOCK:
        _ROWS[key] = found
    return found


def _unknown_labels_warning(config: RunConfig, measure_data: bool, rows: RowTokens | None) -> str:
    if not measure_data:
        why = "measure_data is off, so the data was not read"
    elif rows is None:
        why = f"the data ({config.data.dataset}) is not on this machine"
    else:
        why = f"the data ({config.data.dataset}) has no labels, so method 'head' would refuse to train on it"
    return (
        f"method.method: the new classification head's parameters (hidden × number of labels) are not counted: "
        f"{why}. Estimate with measure_data on and label data to count them."
    )


def estimate_run(
    config: RunConfig,
    *,
    device: str = "cuda",
    measure_data: bool = True,
    gpus: int = 1,
    strategy: str = "ddp",
    offload: bool = False,
) -> RunEstimate:
    """Parameters, trainable parameters, memory by term and GPU fit for `config`, without loading weights.

    device: "cuda" (default; dtypes as on a bf16 GPU) or "cpu" (fp32, process memory). measure_data: size the
    activations by the longest training row when the data and tokenizer are on this machine, else by max_seq_len;
    method "head" counts its classification head from the data's labels, which only measure_data reads.
    gpus, strategy (ddp | zero1 | zero2 | zero3 | fsdp), offload: memory is per GPU under that split; one GPU with
    ddp is a plain single-process run.
    """
    from ft_jupyter.config.lint import lint

    if device not in ("cuda", "cpu"):
        raise ValueError(f"device must be 'cuda' or 'cpu', got {device!r}")
    check_strategy(gpus, strategy, offload)
    arch = architecture(config.model.name, config.model.trust_remote_code)
    max_len = config.training.max_seq_len
    rows = row_tokens(config) if measure_data else None
    num_labels = rows.num_labels if rows else None
    counts = count_parameters(arch, config.method, num_labels)
    longest = rows.longest_row if rows else None
    answer = rows.longest_answer if rows else None
    seq = min(max_len, longest) if longest else max_len
    approx = "" if rows is None or rows.exact else "≈"
    note = (
        f"longest training row {approx}{longest} tokens, max_seq_len {max_len}"
        if longest
        else f"max_seq_len {max_len}, the worst case"
    )
    memory = memory_breakdown(arch, counts, config, device=device, seq_len=seq, answer_tokens=answer)
    on_gpu = (
        memory
        if device == "cuda"
        else memory_breakdown(arch, counts, config, device="cuda", seq_len=seq, answer_tokens=answer)
    )
    sharding = None
    if gpus > 1 or strategy != "ddp":

        def split(breakdown: MemoryBreakdown) -> ShardedMemory:
            inputs = shard_inputs(arch, counts, config, breakdown)
            return shard_breakdown(breakdown, gpus=gpus, strategy=strategy, offload=offload, inputs=inputs)

        sharding = split(memory)
        memory = sharding.per_gpu
        on_gpu = memory if device == "cuda" else split(on_gpu).per_gpu
    fit = gpu_fit(on_gpu.total_bytes)
    warnings = [str(w) for w in lint(config, device=device, longest_row_tokens=longest)]
    if counts.unmatched:
        warnings.append(
            f"method.target_modules: {', '.join(counts.unmatched)} match no layer of {arch.name}; its "
            f"linear layers are {', '.join(arch.linear_names())}."
        )
    if config.method.method == "head" and num_labels is None:
        warnings.append(_unknown_labels_warning(config, measure_data, rows))
    if config.method.uses_lora and counts.trainable == 0:
        warnings.append(
            "No layer gets a LoRA adapter, so nothing would train; pick targets from: "
            f"{', '.join(arch.linear_names())}."
        )
    if not any(g["fits"] for g in fit) and sharding is None:
        warnings.append(
            f"Needs ~{on_gpu.total_bytes / GIB:.0f} GiB on a GPU, more than any single common GPU: use "
            "qlora (4-bit base), gradient_checkpointing, a smaller batch_size or max_seq_len, or a "
            "smaller model."
        )
    elif not any(g["fits"] for g in fit):
        warnings.append(
            f"Needs ~{on_gpu.total_bytes / GIB:.0f} GiB per GPU with {gpus} GPUs under "
            f"{sharding.label}, more than any common GPU: shard more (zero3 or fsdp splits the weights), "
            "add GPUs or offload, or use qlora, gradient_checkpointing or a smaller batch_size."
        )
    return RunEstimate(
        config.model.name,
        arch.source,
        arch.license,
        counts.total,
        counts.trainable,
        counts.percent,
        counts,
        arch,
        memory,
        fit,
        warnings,
        note,
        sharding,
    )
