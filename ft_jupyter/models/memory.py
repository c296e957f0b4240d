"""Training-memory breakdown from the config alone: each term in bytes with the formula that produced it.

Terms (peak of one training step; summed, so slightly pessimistic for full fine-tuning, whose gradients grow while
activations are freed):
  weights      frozen base in its dtype; 4-bit nf4 = 0.5 B + block constants per weight (blocks of 64: one fp32
               absmax each, or with double quantization an 8-bit absmax plus one fp32 per 256 blocks); 8-bit = 1 B
               plus one fp32 scale per output row. Quantized runs keep the rest (embeddings, norms, head) in fp32,
               because peft's k-bit preparation upcasts them.
  adapters     LoRA/DoRA weights, kept in fp32 by peft whatever the base dtype.
  gradients    one per trainable weight, in the trainable weights' dtype.
  optimizer    AdamW: two moments per weight in its dtype; 8-bit AdamW: two 1-byte moments + an fp32 constant per
               256 (tensors under 4,096 values stay 32-bit); Adafactor: row + column factors; SGD: nothing.
  anchors      l2_to_init and EWC keep a copy of the trainable weights as they started; EWC also keeps their Fisher
               information, one value per weight; both in the trainable weights' dtype.
  activations  what autograd keeps for the backward pass, per token and decoder block (see `layer_elements`), times
               batch × sequence length × blocks. With gradient checkpointing only each block's input is kept, plus
               one block recomputed during backward.
  loss head    for Llama-style heads ft-jupyter's trainer computes logits only where a label is (batch × longest
               answer with assistant-only loss); elsewhere TRL computes the loss in tiles of at most 4,096 tokens ×
               32,768 vocabulary entries. Either way the full batch × vocab logits never exist.
  allocator    CPU only: freed temporaries the C allocator keeps cached (see allocator_cache_term).
  runtime      CPU: the Python process with torch, transformers, TRL and the data loaded (measured, see
               benchmarks/RESULTS.md); GPU: CUDA context and kernels, which torch.cuda.max_memory_allocated does
               not count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ft_jupyter.config import RunConfig
from ft_jupyter.models import loading
from ft_jupyter.models.architecture import COMPACT_HEAD_MODELS, Architecture
from ft_jupyter.models.params import ParamCount, lora_targets

GIB = 1024**3
MIB = 1024**2
BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "float32": 4, "bfloat16": 2, "float16": 2}
# Measured on this project's 2-core CPU machine (benchmarks/RESULTS.md): a training process after importing torch,
# transformers, peft, TRL and datasets and building the trainer, before the model's own memory.
CPU_RUNTIME_BYTES = 570 * MIB
# Share of the forward pass's block working set that glibc keeps as free heap on CPU (fitted: 0.55-0.8 measured).
CPU_CACHE_FRACTION = 0.65
# CUDA context, cuBLAS workspaces and kernels: resident on the GPU but outside torch's allocator statistics.
GPU_RUNTIME_BYTES = 600 * MIB
NF4_BLOCK = 64
DOUBLE_QUANT_BLOCK = 256
ADAM8_BLOCK = 256
ADAM8_MIN_SIZE = 4096
TRL_TOKEN_TILE = 4096
TRL_VOCAB_TILE = 32768


@dataclass(frozen=True)
class MemoryTerm:
    name: str
    bytes: int
    formula: str
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "bytes": self.bytes,
            "gib": round(self.bytes / GIB, 3),
            "formula": self.formula,
            "note": self.note,
        }


@dataclass(frozen=True)
class MemoryBreakdown:
    device: str  # "cuda" or "cpu": what the dtypes and runtime term assume
    precision: str  # bf16 | fp16 | fp32 (compute)
    weights_dtype: str
    batch_size: int
    seq_len: int
    terms: tuple[MemoryTerm, ...] = field(default=())

    @property
    def total_bytes(self) -> int:
        return sum(t.bytes for t in self.terms)

    def term(self, name: str) -> MemoryTerm:
        return next(t for t in self.terms if t.name == name)

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "precision": self.precision,
            "weights_dtype": self.weights_dtype,
            "batch_size": self.batch_size,
            "seq_len": self.seq_len,
            "terms": [t.to_json() for t in self.terms],
            "total_bytes": self.total_bytes,
            "total_gib": round(self.total_bytes / GIB, 3),
        }


def resolve_dtypes(config: RunConfig, device: str) -> tuple[str, str]:
    """(compute precision, weights dtype) as the trainer would choose them on `device`: the precision mirrors
    train.translate.choose_precision on a bf16 GPU; the weights follow models.loading.weights_dtype itself."""
    asked = config.training.precision
    precision = asked if asked != "auto" else ("bf16" if device == "cuda" else "fp32")
    return precision, loading.weights_dtype(config.model, precision, config.method.method)


def _fmt(n: float) -> str:
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:,.4g}"


def nf4_bytes_per_weight(config: RunConfig) -> tuple[float, str]:
    """(bytes per 4-bit weight including its block constants, the constants as text)."""
    if config.quantization.double_quant:
        per_weight = 0.5 + 1 / NF4_BLOCK + 4 / (NF4_BLOCK * DOUBLE_QUANT_BLOCK)
        return per_weight, f"(1 + 4/{DOUBLE_QUANT_BLOCK}) B per {NF4_BLOCK}"
    return 0.5 + 4 / NF4_BLOCK, f"4 B per {NF4_BLOCK}"


def weights_term(arch: Architecture, config: RunConfig, weights_dtype: str) -> MemoryTerm:
    mode = config.quantization.mode
    if mode == "none":
        b = BYTES[weights_dtype]
        return MemoryTerm(
            "weights", arch.params_total * b, f"{_fmt(arch.params_total)} params × {b} B ({weights_dtype})"
        )
    quantized = [lin for lin in arch.linears if lin.name != arch.output_layer]
    n_q = sum(lin.in_features * lin.out_features for lin in quantized)
    rest = arch.params_total - n_q
    if mode == "8bit":
        scales = sum(lin.out_features for lin in quantized)
        total = n_q + 4 * scales + 4 * rest
        formula = (
            f"{_fmt(n_q)} linear weights × 1 B + {_fmt(scales)} row scales × 4 B + {_fmt(rest)} other "
            "params × 4 B (fp32)"
        )
        return MemoryTerm("weights", total, formula, "LLM.int8 weights; embeddings, norms and head upcast to fp32")
    per_weight, constants = nf4_bytes_per_weight(config)
    total = math.ceil(n_q * per_weight) + 4 * rest
    formula = f"{_fmt(n_q)} linear weights × (0.5 B + {constants}) + {_fmt(rest)} other params × 4 B (fp32)"
    return MemoryTerm(
        "weights",
        total,
        formula,
        f"4-bit {config.quantization.quant_type}; embeddings, norms and "
        "head upcast to fp32 by peft's k-bit preparation",
    )


def optimizer_term(name: str, tensors: tuple[tuple[int, ...], ...], b: int) -> MemoryTerm:
    numels = [math.prod(s) for s in tensors]
    n = sum(numels)
    if name == "adamw":
        return MemoryTerm("optimizer", 2 * b * n, f"AdamW: 2 moments × {_fmt(n)} trainable × {b} B")
    if name in ("adamw-8bit", "paged-adamw-8bit"):
        big = [k for k in numels if k >= ADAM8_MIN_SIZE]
        small = n - sum(big)
        total = sum(2 * (k + 4 * math.ceil(k / ADAM8_BLOCK)) for k in big) + 2 * 4 * small
        formula = (
            f"8-bit AdamW: 2 × ({_fmt(sum(big))} × 1 B + 4 B per {ADAM8_BLOCK}) + tensors under "
            f"{ADAM8_MIN_SIZE:,} values in 32-bit: 2 × {_fmt(small)} × 4 B"
        )
        note = "paged: moved to CPU RAM under GPU memory pressure" if name.startswith("paged") else ""
        return MemoryTerm("optimizer", total, formula, note)
    if name == "adafactor":
        factors = sum((s[0] + s[-1]) if len(s) >= 2 else s[0] for s in tensors)
        return MemoryTerm("optimizer", 4 * factors, f"Adafactor: row + column factors, {_fmt(factors)} × 4 B")
    return MemoryTerm("optimizer", 0, "SGD without momentum keeps no state")


def layer_elements(arch: Architecture, config: RunConfig, seq_len: int, *, frozen: bool = False) -> dict[str, int]:
    """Values autograd saves per token in one decoder block whose input needs gradients, by part.

    frozen: a block with no trainable weight that gradients still pass through (freeze below the top blocks).

    Read off PyTorch's saved-tensor hooks on Llama/Qwen2/Mistral/Gemma blocks (tests/unit/estimate): each norm keeps
    its input and 1/rms (and the normalised input when its weight trains); SDPA attention keeps q, k, v, the output
    and a log-sum-exp per head (eager attention also the softmax probabilities, heads × sequence); a gated MLP keeps
    gate, up and act(gate) (3·i); a linear layer's input is kept only when its weight or a LoRA adapter on it trains,
    once per shared input; LoRA adds r per adapter (the input of B), and with dropout > 0 the dropped copy and mask
    of the input (2·in) instead of the shared input.
    """
    h, i, d = arch.hidden_size, arch.intermediate_size, arch.head_dim
    q, kv = arch.num_heads * d, arch.num_kv_heads * d
    method = config.method
    full_like = method.method in ("full", "freeze", "head") and not frozen
    norms = arch.norms_per_layer * (h + 1 + (h if full_like else 0))
    if arch.qk_norm:
        norms += q + arch.num_heads + kv + arch.num_kv_heads + ((q + kv) if full_like else 0)
    if arch.attn_implementation == "eager":
        attention = 3 * q + 2 * arch.num_heads * seq_len + q  # q, repeated k and v, probs and dropout, output copy
    else:
        attention = 2 * q + 2 * kv + arch.num_heads
    mlp = 3 * i if arch.gated_mlp else i
    out = {"norms": norms, "attention": attention, "mlp": mlp, "linear inputs": 0, "lora": 0}
    block = [lin for lin in arch.linears if lin.layer == 0]
    adapted = {}
    if method.uses_lora and not frozen:
        adapted = {
            name.rsplit(".", 1)[-1]: n_in
            for name, n_in, _, kind in lora_targets(arch, method)[0]
            if kind == "linear" and arch.layer_of(name) == 0
        }
    shared_inputs: dict[tuple[str, int], int] = {}
    for lin in block:
        trains = full_like or lin.leaf in adapted
        if not trains:
            continue
        if lin.leaf in adapted:
            out["lora"] += method.r + (2 * lin.in_features if method.dropout > 0 else 0)
            if method.dropout > 0 and not full_like:
                continue
        # Inputs shared by several projections (q/k/v, gate/up) are one tensor; o_proj reads the attention output.
        group = "attn_out" if lin.leaf in ("o_proj", "out_proj", "dense") else lin.name.rsplit(".", 2)[-2]
        key = (group, lin.in_features)
        if group == "attn_out" and arch.attn_implementation != "eager":
            continue  # a view of SDPA's saved output
        shared_inputs[key] = lin.in_features
    out["linear inputs"] = sum(shared_inputs.values())
    return out


def saving_blocks(arch: Architecture, config: RunConfig, seq_len: int) -> list[tuple[int, dict[str, int]]]:
    """[(number of blocks, values saved per token in each)] for the blocks that keep activations.

    Every block does for LoRA and full fine-tuning. With freeze and head, the top blocks do; the frozen ones below
    keep activations too when gradients must reach the input embedding (a tied LM head that trains, or gradient
    checkpointing, which makes the embedding output require grad), and keep nothing otherwise.
    """
    method = config.method
    if method.method not in ("freeze", "head"):
        return [(arch.num_layers, layer_elements(arch, config, seq_len))]
    plan = [(method.freeze_train_blocks, layer_elements(arch, config, seq_len))] if method.freeze_train_blocks else []
    tied_head_trains = method.method == "freeze" and arch.tied_embeddings and method.freeze_train_head
    reaches_embedding = tied_head_trains or config.training.gradient_checkpointing
    below = arch.num_layers - method.freeze_train_blocks
    if reaches_embedding and below:
        plan.append((below, layer_elements(arch, config, seq_len, frozen=True)))
    return plan


def _trains_head(arch: Architecture, config: RunConfig) -> bool:
    method = config.method
    if method.method == "full":
        return True
    if method.method == "freeze":
        return method.freeze_train_head
    if method.method == "head":
        return False  # the language-model head is replaced by the classification head
    return any(name == arch.output_layer for name, *_ in lora_targets(arch, config.method)[0])


def activation_terms(
    arch: Architecture, config: RunConfig, precision: str, batch: int, seq_len: int, labeled_tokens: int | None = None
) -> list[MemoryTerm]:
    tokens = batch * seq_len
    b = BYTES[precision]
    # Quantized runs carry an fp32 residual stream (peft upcasts embeddings and norms), so norm inputs are 4 B.
    stream_b = 4 if config.quantization.mode != "none" else b
    plan = saving_blocks(arch, config, seq_len)
    layers = sum(n for n, _ in plan)

    def block_bytes(parts: dict[str, int]) -> int:
        return b * (sum(parts.values()) - parts["norms"]) + stream_b * parts["norms"]

    sizes = f"{b} B" if stream_b == b else f"{b} B (norms {stream_b} B)"
    blocks = " + ".join(f"{n} blocks × {sum(parts.values()):,} values" for n, parts in plan) or "no block"
    detail = "; ".join(" + ".join(f"{k} {v:,}" for k, v in parts.items() if v) for _, parts in plan)
    if config.training.gradient_checkpointing:
        largest = max((block_bytes(parts) for _, parts in plan), default=0)
        saved = tokens * (layers * arch.hidden_size * stream_b + largest)
        formula = (
            f"{batch} × {seq_len} tokens × ({layers} blocks × hidden {arch.hidden_size} × {stream_b} B + one "
            f"block recomputed, {largest:,} B)"
        )
        note = "gradient checkpointing: block inputs kept, each block recomputed in backward"
    else:
        saved = tokens * sum(n * block_bytes(parts) for n, parts in plan)
        formula = f"{batch} × {seq_len} tokens × ({blocks}) × {sizes} ({detail})"
        note = "without gradient checkpointing (turn it on to keep only block inputs)"
    terms = [MemoryTerm("activations", saved, formula, note)]
    terms.append(loss_head_term(arch, config, b, tokens, labeled_tokens))
    return terms


def allocator_cache_term(arch: Architecture, config: RunConfig, precision: str, batch: int, seq_len: int) -> MemoryTerm:
    """CPU only: freed forward-pass temporaries that glibc malloc keeps (process memory, not live tensors).

    Measured (benchmarks/RESULTS.md): each block's temporaries are freed but not reused by the next block, so by the
    end of the forward pass the heap holds, as free space, about this share of the blocks' working set.
    """
    tokens = batch * seq_len
    values = sum(n * sum(parts.values()) for n, parts in saving_blocks(arch, config, seq_len))
    cache = int(CPU_CACHE_FRACTION * tokens * values * BYTES[precision])
    formula = f"{CPU_CACHE_FRACTION} × {tokens:,} tokens × {values:,} values over the blocks × {BYTES[precision]} B"
    return MemoryTerm(
        "allocator cache",
        cache,
        formula,
        "freed temporaries the C allocator keeps; CPU process memory only, fitted to measurements",
    )


def compact_head(arch: Architecture) -> bool:
    """Whether ft-jupyter's trainer scores only the labelled positions for this architecture (train.trainer)."""
    return arch.model_type in COMPACT_HEAD_MODELS


def loss_head_term(arch: Architecture, config: RunConfig, b: int, tokens: int, labeled: int | None) -> MemoryTerm:
    """The output head and loss: ft-jupyter's compact head for plain Llama-style heads, else TRL's tiled head, or
    the classification head of method "head"."""
    h, vocab = arch.hidden_size, arch.vocab_size
    norm = tokens * (h + 1) * 4  # the final norm's input and 1/rms; fp32 is the conservative choice
    if config.method.method == "head":
        return _classifier_head_term(config, h, b, tokens, norm)
    if compact_head(arch):
        n = min(tokens, labeled) if labeled else tokens
        per = 12 + (b if b != 4 else 0)  # fp32 log-softmax kept + its gradient pair in backward (+ logits if not fp32)
        which = "labelled tokens" if labeled else "tokens (all: the worst case until the data is known)"
        formula = (
            f"{n:,} {which} × vocab {vocab:,} × {per} B (fp32 log-softmax and its gradients"
            f"{', logits' if b != 4 else ''}) + final norm {tokens:,} × {h + 1} × 4 B"
        )
        note = "logits only where a label is (assistant answers), never the whole batch × vocab"
        return MemoryTerm("loss head", n * vocab * per + norm, formula, note)
    tile = min(tokens, TRL_TOKEN_TILE) * min(vocab, TRL_VOCAB_TILE) * b
    grad_hidden = tokens * h * 4
    grad_head = vocab * h * 4 if _trains_head(arch, config) else 0
    formula = (
        f"tile {min(tokens, TRL_TOKEN_TILE):,} × {min(vocab, TRL_VOCAB_TILE):,} × {b} B + hidden and final norm "
        f"{tokens:,} × ({h} × {b} B + {h + 1} × 4 B) + fp32 grad of hidden {tokens:,} × {h} × 4 B"
        + (f" + fp32 head grad {vocab:,} × {h} × 4 B" if grad_head else "")
    )
    return MemoryTerm(
        "loss head",
        tile + tokens * h * b + norm + grad_hidden + grad_head,
        formula,
        "TRL's tiled log-probabilities: the full batch × vocab logits never exist",
    )


def _classifier_head_term(config: RunConfig, h: int, b: int, tokens: int, norm: int) -> MemoryTerm:
    # The classification head scores every position and keeps its input for its weight's gradient; the final norm
    # keeps activations only when gradients go on into trainable blocks below it.
    below = config.method.freeze_train_blocks > 0 or config.training.gradient_checkpointing
    formula = f"head input {tokens:,} tokens × hidden {h} × {b} B" + (
        f" + final norm {tokens:,} × {h + 1} × 4 B" if below else ""
    )
    return MemoryTerm(
        "loss head",
        tokens * h * b + (norm if below else 0),
        formula,
        "classification head: logits of a few labels per position, negligible next to its input",
    )


def memory_breakdown(
    arch: Architecture,
    counts: ParamCount,
    config: RunConfig,
    *,
    device: str = "cuda",
    seq_len: int | None = None,
    answer_tokens: int | None = None,
) -> MemoryBreakdown:
    """Every memory term of one training step of `config` on `device` ("cuda" or "cpu").

    seq_len: tokens per row in the longest batch (default max_seq_len); answer_tokens: loss-carrying tokens of the
    longest answer, when known (with assistant-only loss only those reach the head)."""
    precision, weights_dtype = resolve_dtypes(config, device)
    t = config.training
    seq = seq_len or t.max_seq_len
    terms = [weights_term(arch, config, weights_dtype)]
    method = config.method
    if method.uses_lora:
        adapters = counts.total - counts.base
        terms.append(MemoryTerm("adapters", adapters * 4, f"{_fmt(adapters)} LoRA params × 4 B (fp32)"))
        train_b = 4
    else:
        train_b = BYTES[weights_dtype]
    terms.append(
        MemoryTerm("gradients", counts.trainable * train_b, f"{_fmt(counts.trainable)} trainable × {train_b} B")
    )
    terms.append(optimizer_term(t.optimizer, counts.tensors, train_b))
    copies = (t.l2_to_init > 0 or t.ewc_lambda > 0) + (t.ewc_lambda > 0)
    if copies:
        what = "starting weights + Fisher" if copies == 2 else "starting weights"
        n = counts.trainable
        terms.append(MemoryTerm("anchors", copies * n * train_b, f"{what}: {copies} × {_fmt(n)} × {train_b} B"))
    labeled = t.batch_size * answer_tokens if answer_tokens and t.assistant_only_loss else None
    terms += activation_terms(arch, config, precision, t.batch_size, seq, labeled)
    if device == "cpu":
        terms.append(allocator_cache_term(arch, config, precision, t.batch_size, seq))
        terms.append(
            MemoryTerm(
                "runtime",
                CPU_RUNTIME_BYTES,
                f"{CPU_RUNTIME_BYTES // MIB} MiB measured",
                "Python, torch, transformers, TRL, tokenizer and data in the training process",
            )
        )
    else:
        terms.append(
            MemoryTerm(
                "runtime",
                GPU_RUNTIME_BYTES,
                f"{GPU_RUNTIME_BYTES // MIB} MiB",
                "CUDA context and kernels; not counted by torch.cuda.max_memory_allocated",
            )
        )
    return MemoryBreakdown(device, precision, weights_dtype, t.batch_size, seq, tuple(terms))
