"""A model's anatomy from its config alone: build it on PyTorch's meta device (shapes, no memory, no weights) and
read off every parameter and linear layer. This is what the estimates and the panel's LoRA-target checkboxes use.

Shapes come from, in order: the catalogue (tiny-random is built locally; SmolLM2 uses its converted folder or the
table), a local folder or config.json path, the local Hugging Face cache, then the built-in table of popular models.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ft_jupyter.models.cache import ModelNotFoundError, cache_home
from ft_jupyter.models.shapes import find_shape, table_names

GROUPS = ("embeddings", "attention", "mlp", "norms", "head", "other")
# Architectures whose causal-LM head is exactly `lm_head(hidden)`: no logit scaling or soft-capping, no router loss.
# ft-jupyter's trainer scores only the labelled positions for these (train.trainer.install_compact_head); others keep
# TRL's fused head, which handles those (correct, just without the compact speed-up). The memory estimate follows.
COMPACT_HEAD_MODELS = ("llama", "mistral", "qwen2", "qwen3", "phi3", "smollm3", "olmo2")
_LAYER_INDEX = re.compile(r"\.(?:layers|h|blocks|block)\.(\d+)\.")


@dataclass(frozen=True)
class Linear:
    name: str  # full module name, e.g. model.layers.3.self_attn.q_proj
    in_features: int
    out_features: int
    bias: bool
    layer: int | None  # decoder block index, None outside the blocks

    @property
    def leaf(self) -> str:
        return self.name.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Architecture:
    """Everything the estimates need to know about one model, read from a meta-device instantiation."""

    name: str
    source: str  # where the shape came from, for people
    model_type: str
    class_name: str
    license: str | None
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    tied_embeddings: bool
    attn_implementation: str
    params_total: int
    groups: dict[str, int]  # parameters by kind (GROUPS), tied weights counted once
    linears: tuple[Linear, ...]  # every nn.Linear, in module order
    embeddings: tuple[tuple[str, int, int], ...]  # (name, num_embeddings, embedding_dim)
    params: tuple[tuple[str, tuple[int, ...]], ...]  # (name, shape) of every parameter, tied ones once
    output_layer: str  # module name of the output head (excluded from "all-linear")
    input_embedding: str  # module name of the token embedding
    head_params: int  # parameters of the output head's module (shared with the input embedding if tied)
    norms_per_layer: int  # RMSNorm/LayerNorm modules directly inside one block (not q/k norms)
    qk_norm: bool  # per-head norms on queries and keys (Gemma 3, Qwen 3)
    gated_mlp: bool  # gate_proj/up_proj/down_proj (SwiGLU/GeGLU) rather than fc1/fc2

    def layer_of(self, name: str) -> int | None:
        return _layer_of(name)

    def numel(self, prefix: str = "") -> int:
        """Parameters whose name starts with `prefix` ("" = all)."""
        return sum(_prod(shape) for name, shape in self.params if name.startswith(prefix))

    def linear_names(self) -> list[str]:
        """Distinct leaf names of the linear layers LoRA can target (the output head excluded), in model order."""
        seen: dict[str, None] = {}
        for lin in self.linears:
            if lin.name != self.output_layer:
                seen.setdefault(lin.leaf)
        return list(seen)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "model_type": self.model_type,
            "class": self.class_name,
            "license": self.license,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "num_kv_heads": self.num_kv_heads,
            "head_dim": self.head_dim,
            "vocab_size": self.vocab_size,
            "tied_embeddings": self.tied_embeddings,
            "params_total": self.params_total,
            "params_by_group": dict(self.groups),
            "linear_names": self.linear_names(),
        }


def _config_from_file(path: Path, trust_remote_code: bool):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(str(path), trust_remote_code=trust_remote_code)


def load_config(name: str, *, trust_remote_code: bool = False) -> tuple[Any, str, str | None]:
    """(transformers config, where it came from, license id or None) for any name the estimates accept."""
    from transformers import AutoConfig

    name = name.strip()
    shape = find_shape(name)
    license = shape.license if shape else None
    if name == "tiny-random":
        from ft_jupyter.models.tiny import ensure_tiny_random

        return _config_from_file(ensure_tiny_random(), False), "catalogue: tiny-random (built locally)", "apache-2.0"
    if name == "smollm2-135m-instruct":
        folder = cache_home() / "models" / "smollm2-135m-instruct"
        if (folder / "config.json").is_file():
            return _config_from_file(folder, False), f"catalogue: converted folder {folder}", license
    path = Path(name).expanduser()
    if path.is_file() and path.name.endswith(".json"):
        return _config_from_file(path, trust_remote_code), f"local file {path}", license
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"Folder {str(path)!r} has no config.json; point at a model folder or at a config.json file."
            )
        return _config_from_file(path, trust_remote_code), f"local folder {path}", license
    cached = _cached_hub_config(name)
    if cached is not None:
        return _config_from_file(cached, trust_remote_code), f"Hugging Face cache: {name}", license
    if shape is not None:
        fields = dict(shape.fields)
        config = AutoConfig.for_model(fields.pop("model_type"), **fields)
        return config, f"built-in table: {shape.repo_id}", license
    raise ModelNotFoundError(
        f"No shape for model {name!r}: not a catalogue name, not a local folder or config.json, not in the Hugging "
        f"Face cache, and not in the built-in table. Give a path to its config.json, or one of: tiny-random, "
        f"smollm2-135m-instruct, {', '.join(table_names())}."
    )


def _cached_hub_config(name: str) -> Path | None:
    if "/" not in name or name.startswith(("/", ".", "~")):
        return None
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(name, "config.json")
    except ValueError:  # not a valid repo id
        return None
    return Path(found) if isinstance(found, str) else None


def _group(param_name: str, head_prefix: str) -> str:
    lowered = param_name.lower()
    if param_name.startswith(head_prefix + "."):
        return "head"
    if "norm" in lowered or "ln_" in lowered:
        return "norms"
    if "embed" in lowered or ".wte." in lowered or ".wpe." in lowered:
        return "embeddings"
    if "attn" in lowered or "attention" in lowered:
        return "attention"
    if "mlp" in lowered or "feed_forward" in lowered or "ffn" in lowered:
        return "mlp"
    return "other"


def _prod(shape: tuple[int, ...]) -> int:
    out = 1
    for n in shape:
        out *= n
    return out


def _layer_of(name: str) -> int | None:
    match = _LAYER_INDEX.search("." + name + ".")
    return int(match.group(1)) if match else None


@functools.lru_cache(maxsize=32)
def architecture(name: str, trust_remote_code: bool = False) -> Architecture:
    """The anatomy of model `name`; the first call per model builds it on the meta device (~0.1-1 s after the ~6 s
    import of torch and transformers), later calls are free."""
    import torch
    from transformers import AutoModelForCausalLM

    config, source, license = load_config(name, trust_remote_code=trust_remote_code)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    head = model.get_output_embeddings()
    head_name = next((n for n, m in model.named_modules() if m is head), "")
    groups = dict.fromkeys(GROUPS, 0)
    params = tuple((pname, tuple(p.shape)) for pname, p in model.named_parameters())  # tied weights listed once
    for pname, shape in params:
        groups[_group(pname, head_name)] += _prod(shape)
    linears, embeddings = [], []
    for mname, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            linears.append(
                Linear(mname, module.in_features, module.out_features, module.bias is not None, _layer_of(mname))
            )
        elif isinstance(module, torch.nn.Embedding):
            embeddings.append((mname, module.num_embeddings, module.embedding_dim))
    block = model.get_decoder().layers[0] if hasattr(model, "get_decoder") else None
    norm_names = [n for n, m in block.named_children() if "norm" in type(m).__name__.lower()] if block else []
    heads = int(text.num_attention_heads)
    return Architecture(
        name=name,
        source=source,
        model_type=str(text.model_type),
        class_name=type(model).__name__,
        license=license,
        hidden_size=int(text.hidden_size),
        intermediate_size=int(getattr(text, "intermediate_size", 0) or 0),
        num_layers=int(text.num_hidden_layers),
        num_heads=heads,
        num_kv_heads=int(getattr(text, "num_key_value_heads", None) or heads),
        head_dim=int(getattr(text, "head_dim", None) or text.hidden_size // heads),
        vocab_size=int(text.vocab_size),
        tied_embeddings=_is_tied(model),
        attn_implementation=str(getattr(config, "_attn_implementation", None) or "sdpa"),
        params_total=sum(groups.values()),
        groups=groups,
        linears=tuple(linears),
        embeddings=tuple(embeddings),
        params=params,
        output_layer=head_name,
        input_embedding=next((n for n, m in model.named_modules() if m is model.get_input_embeddings()), ""),
        head_params=sum(p.numel() for p in head.parameters()) if head is not None else 0,
        norms_per_layer=len(norm_names),
        qk_norm=any(n.endswith(("q_norm", "k_norm")) for n, _ in model.named_modules()),
        gated_mlp=any(lin.leaf == "gate_proj" for lin in linears),
    )


def _is_tied(model) -> bool:
    head, embed = model.get_output_embeddings(), model.get_input_embeddings()
    return head is not None and embed is not None and head.weight is embed.weight


def linear_module_names(model_name: str, *, trust_remote_code: bool = False) -> list[str]:
    """Distinct leaf names of the model's linear layers that LoRA can target, e.g. q_proj ... down_proj."""
    return architecture(model_name, trust_remote_code).linear_names()
