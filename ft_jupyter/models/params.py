"""Exact trainable-parameter counts for LoRA, DoRA, full, freeze and head fine-tuning, from a model's anatomy alone.

The LoRA rules are peft's: a target name matches a module whose full name equals it or ends with ".<name>";
"all-linear" means every linear layer except the output head; each adapted linear layer of shape in→out adds
A (r×in) and B (out×r), DoRA adds a magnitude vector of `out`; bias "all" trains every bias, "lora_only" the biases
of the adapted layers. The unit tests hold these counts equal to what peft reports on real models.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ft_jupyter.config import MethodConfig
from ft_jupyter.models.architecture import Architecture, _prod


@dataclass(frozen=True)
class ParamCount:
    total: int  # parameters of the model as trained: base + adapters (peft's "all params")
    trainable: int
    base: int  # parameters of the base model alone
    tensors: tuple[tuple[int, ...], ...] = field(repr=False)  # shapes of the trainable tensors (optimizer sizing)
    lines: tuple[str, ...] = ()  # how the trainable count is made up, one line per kind of module
    matched: tuple[str, ...] = ()  # LoRA: leaf names that got adapters
    unmatched: tuple[str, ...] = ()  # LoRA: requested names that match no linear or embedding layer

    @property
    def percent(self) -> float:
        return 100.0 * self.trainable / self.total if self.total else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "trainable": self.trainable,
            "base": self.base,
            "trainable_percent": round(self.percent, 4),
            "lines": list(self.lines),
            "matched": list(self.matched),
            "unmatched": list(self.unmatched),
        }


def _matches(module: str, targets: tuple[str, ...]) -> str | None:
    for target in targets:
        if module == target or module.endswith("." + target):
            return target
    return None


def lora_targets(arch: Architecture, method: MethodConfig) -> tuple[list[tuple[str, int, int, str]], list[str]]:
    """([(module name, in, out, kind)], unmatched target names) where kind is "linear" or "embedding"."""
    targets = method.resolved_targets()
    if targets == ("all-linear",):
        found = [
            (lin.name, lin.in_features, lin.out_features, "linear")
            for lin in arch.linears
            if lin.name != arch.output_layer
        ]
        return found, []
    found, hit = [], set()
    for lin in arch.linears:
        target = _matches(lin.name, targets)
        if target:
            found.append((lin.name, lin.in_features, lin.out_features, "linear"))
            hit.add(target)
    for name, num, dim in arch.embeddings:
        target = _matches(name, targets)
        if target:
            found.append((name, num, dim, "embedding"))
            hit.add(target)
    return found, [t for t in targets if t not in hit]


def _lora_count(arch: Architecture, method: MethodConfig) -> ParamCount:
    r = method.r
    modules, unmatched = lora_targets(arch, method)
    tensors: list[tuple[int, ...]] = []
    per_leaf: OrderedDict[str, list[int]] = OrderedDict()  # leaf → [modules, params each, in, out]
    for name, n_in, n_out, kind in modules:
        if kind == "linear":
            shapes = [(r, n_in), (n_out, r)] + ([(n_out,)] if method.use_dora else [])
        else:  # peft's embedding adapter: A is r×num_embeddings, B is dim×r
            shapes = [(r, n_in), (n_out, r)]
        tensors += shapes
        leaf = name.rsplit(".", 1)[-1]
        entry = per_leaf.setdefault(leaf, [0, sum(_prod(s) for s in shapes), n_in, n_out])
        entry[0] += 1
    adapters = sum(_prod(s) for s in tensors)
    lines = [
        f"{leaf} ×{n}: r·(in+out){' + out' if method.use_dora else ''} = {r}·({i}+{o})"
        f"{f' + {o}' if method.use_dora else ''} = {each:,} each"
        for leaf, (n, each, i, o) in per_leaf.items()
    ]
    adapted = {name for name, *_ in modules}
    if method.bias == "all":
        biases = [(n, s) for n, s in arch.params if n == "bias" or n.endswith(".bias")]
    elif method.bias == "lora_only":
        biases = [(n, s) for n, s in arch.params if n.endswith(".bias") and n[: -len(".bias")] in adapted]
    else:
        biases = []
    if biases:
        lines.append(f"biases ({method.bias}): {len(biases)} tensors, {sum(_prod(s) for _, s in biases):,}")
    tensors += [s for _, s in biases]
    trainable = adapters + sum(_prod(s) for _, s in biases)
    return ParamCount(
        arch.params_total + adapters,
        trainable,
        arch.params_total,
        tuple(tensors),
        tuple(lines),
        tuple(per_leaf),
        tuple(unmatched),
    )


def _freeze_count(arch: Architecture, method: MethodConfig) -> ParamCount:
    k = method.freeze_train_blocks
    top = _top_blocks(arch, k)
    head_prefix = arch.output_layer + "."
    # With tied embeddings the head's weight is listed once, under the input embedding's name.
    tied_name = arch.input_embedding if arch.tied_embeddings else None
    chosen = [
        (n, s)
        for n, s in arch.params
        if arch.layer_of(n) in top
        or (method.freeze_train_head and (n.startswith(head_prefix) or (tied_name and n == tied_name + ".weight")))
    ]
    trainable = sum(_prod(s) for _, s in chosen)
    lines = [f"top {k} of {arch.num_layers} blocks"]
    if method.freeze_train_head:
        lines.append("output head" + (" (tied: the input embedding trains too)" if arch.tied_embeddings else ""))
    return ParamCount(arch.params_total, trainable, arch.params_total, tuple(s for _, s in chosen), tuple(lines))


def _top_blocks(arch: Architecture, k: int) -> set[int]:
    from ft_jupyter.config import ConfigError

    if k > arch.num_layers:
        raise ConfigError(
            f"method.freeze_train_blocks = {k} but {arch.name} has only {arch.num_layers} blocks; use "
            f"at most {arch.num_layers}."
        )
    return set(range(arch.num_layers - k, arch.num_layers))


def _head_count(arch: Architecture, method: MethodConfig, num_labels: int | None) -> ParamCount:
    """AutoModelForSequenceClassification: the backbone without the language-model head, plus a new bias-free
    hidden → num_labels layer (transformers' GenericForSequenceClassification), which trains with the top blocks."""
    k = method.freeze_train_blocks
    top = _top_blocks(arch, k)
    head_prefix = arch.output_layer + "."
    # The LM head is dropped; when tied, its weight is listed once under the input embedding, which stays.
    backbone = [(n, s) for n, s in arch.params if not n.startswith(head_prefix)]
    chosen = [(n, s) for n, s in backbone if arch.layer_of(n) in top]
    lines = [f"top {k} of {arch.num_layers} blocks"]
    if num_labels is None:
        lines.append(
            f"classification head (hidden {arch.hidden_size} × the number of labels): not counted, the "
            "labels are not known without the data"
        )
        head = []
    else:
        head = [(num_labels, arch.hidden_size)]  # the weight of nn.Linear(hidden, num_labels)
        lines.append(
            f"new classification head: hidden × labels = {arch.hidden_size} × {num_labels} = "
            f"{arch.hidden_size * num_labels:,}"
        )
    base = sum(_prod(s) for _, s in backbone) + sum(_prod(s) for s in head)
    trainable = sum(_prod(s) for _, s in chosen) + sum(_prod(s) for s in head)
    return ParamCount(base, trainable, base, tuple(s for _, s in chosen) + tuple(head), tuple(lines))


def count_parameters(arch: Architecture, method: MethodConfig, num_labels: int | None = None) -> ParamCount:
    """Total and trainable parameters of `arch` trained with `method`; method "head" needs `num_labels` (the number
    of labels in the data) to count its head, and leaves the head out without it."""
    if method.uses_lora:
        return _lora_count(arch, method)
    if method.method == "full":
        return ParamCount(
            arch.params_total,
            arch.params_total,
            arch.params_total,
            tuple(s for _, s in arch.params),
            ("every parameter",),
        )
    if method.method == "head":
        return _head_count(arch, method, num_labels)
    return _freeze_count(arch, method)
