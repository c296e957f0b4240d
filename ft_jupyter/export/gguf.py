"""GGUF files for llama.cpp and Ollama, written by the kit itself for Llama-family models.

`write_gguf` turns a plain Hugging Face folder (a merged run, SmolLM2, tiny-random) into one GGUF file;
`write_lora_gguf` turns a PEFT LoRA adapter into the small adapter GGUF that Ollama's `ADAPTER` line and
llama.cpp's `--lora` load on top of the base model's GGUF. Both stream tensor by tensor into a staging file that
replaces the target only when complete.

What llama.cpp expects beyond renaming tensors:

- Q and K rows reordered. Hugging Face's Llama rotates the two halves of each head (`rotate_half`); llama.cpp rotates
  adjacent pairs, so each head's rows are interleaved (first half, second half, first, second...). The same reorder
  applies to LoRA's B matrix, because it produces those rows; A is untouched.
- A GPT-2 style byte-level BPE vocabulary with a named pre-tokenizer, picked here from the structure of
  tokenizer.json: plain byte-level → "gpt-2" (tiny-random, and SmolLM2 as converted by the kit), digits split one by
  one then byte-level → "smollm" (SmolLM2's original tokenizer). Anything else is written as "gpt-2" with a warning,
  and `gguf_check.check_with_llama_cpp` shows whether tokens still agree.
- q8_0 stores 2-D weights whose rows are a multiple of 32 values (the block size) as Q8_0 and every other 2-D tensor as
  f16; norms stay f32 in every type, as llama.cpp keeps them.

Other architectures (Qwen, Gemma, Mistral-style SentencePiece vocabularies...) are llama.cpp's converter's job: with
FT_JUPYTER_LLAMA_CPP pointing at a llama.cpp checkout the same calls run it; without one they raise GGUFNotSupported
with the command to run (llama_cpp.py).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ft_jupyter.export.folder import staged
from ft_jupyter.export.llama_cpp import GGUFFile, GGUFNotSupported, with_llama_cpp

GGUF_TYPES = ("f16", "q8_0")
SUPPORTED_ARCHITECTURES = ("LlamaForCausalLM",)
Q8_BLOCK = 32
F16_MAX = 65504.0
BAR_PARAMS = 20_000_000  # below this, writing takes about a second: no bar
_IGNORED = ("rotary_emb.inv_freq",)  # recomputed by every runtime; old checkpoints still save it
_LAYER_NAMES = {
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def write_gguf(
    model_dir: str | Path, out_path: str | Path, *, type: str = "f16", progress: bool | None = None
) -> GGUFFile:
    """Write the model in `model_dir` as one GGUF file of `type` (f16 or q8_0), replacing `out_path` only when done."""
    if type not in GGUF_TYPES:
        raise ValueError(f"GGUF type {type!r} is not one of {', '.join(GGUF_TYPES)}.")
    from ft_jupyter.export.gguf_vocab import add_vocabulary, read_tokenizer

    model_dir, out_path = Path(model_dir), Path(out_path)
    started = time.perf_counter()
    try:
        config = _llama_config(model_dir)
        tokenizer = read_tokenizer(model_dir)
        plan = _plan(model_dir, config, type)
    except GGUFNotSupported as exc:
        return with_llama_cpp(
            exc, "convert_hf_to_gguf.py", [str(model_dir), "--outtype", type], out_path, type, started
        )
    n_params = sum(math.prod(item["shape"]) for item in plan)
    show = progress if progress is not None else (None if n_params >= BAR_PARAMS else False)
    with staged(out_path) as tmp:
        writer = _writer(model_dir.name, "model")
        _add_model_metadata(writer, config, type)
        add_vocabulary(writer, model_dir, tokenizer, config["vocab_size"])
        _stream(writer, tmp, plan, lambda item: _load_model_tensor(item, config), f"Writing {out_path.name}", show)
    return GGUFFile(out_path, type, out_path.stat().st_size, len(plan), time.perf_counter() - started)


def write_lora_gguf(
    adapter_dir: str | Path, base_model_dir: str | Path, out_path: str | Path, *, progress: bool | None = None
) -> GGUFFile:
    """Write a PEFT LoRA adapter as an adapter GGUF for llama.cpp `--lora` / Ollama `ADAPTER`, next to the base's
    GGUF. The adapter GGUF only works on a GGUF of the same base model."""
    adapter_dir, base_model_dir, out_path = Path(adapter_dir), Path(base_model_dir), Path(out_path)
    started = time.perf_counter()
    try:
        config = _llama_config(base_model_dir)
    except GGUFNotSupported as exc:
        return with_llama_cpp(
            exc,
            "convert_lora_to_gguf.py",
            [str(adapter_dir), "--base", str(base_model_dir), "--outtype", "f16"],
            out_path,
            "f16",
            started,
        )
    alpha, pairs = _lora_plan(adapter_dir, base_model_dir, config)
    with staged(out_path) as tmp:
        writer = _writer(adapter_dir.name, "adapter")
        writer.add_string("adapter.type", "lora")
        writer.add_float32("adapter.lora.alpha", alpha)
        _stream(
            writer,
            tmp,
            pairs,
            lambda item: _load_lora_tensor(item, config),
            f"Writing {out_path.name}",
            progress if progress is not None else False,
        )
    return GGUFFile(out_path, "f16", out_path.stat().st_size, len(pairs), time.perf_counter() - started)


# --- configuration -------------------------------------------------------------------------------------------------


def _llama_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{model_dir} has no config.json; pass a Hugging Face model folder (a merged run, or a base model folder)."
        )
    raw = json.loads(path.read_text(encoding="utf-8"))
    arch = (raw.get("architectures") or [f"model of type {raw.get('model_type')!r}"])[0]
    if arch not in SUPPORTED_ARCHITECTURES or raw.get("model_type") != "llama":
        raise GGUFNotSupported(
            f"{model_dir} holds a {arch}; the kit's own GGUF writer supports "
            f"{', '.join(SUPPORTED_ARCHITECTURES)} only (Llama-family models such as SmolLM2 and "
            "tiny-random)."
        )
    rope = raw.get("rope_parameters") or raw.get("rope_scaling") or {}
    problems = [
        f"{key}={raw.get(key)!r}"
        for key, ok in (
            ("hidden_act", raw.get("hidden_act", "silu") == "silu"),
            ("attention_bias", not raw.get("attention_bias")),
            ("mlp_bias", not raw.get("mlp_bias")),
            ("quantization_config", "quantization_config" not in raw),
        )
        if not ok
    ]
    if rope.get("rope_type", rope.get("type", "default")) != "default":
        problems.append(f"rope type {rope.get('rope_type', rope.get('type'))!r}")
    if problems:
        raise GGUFNotSupported(
            f"{model_dir} holds a Llama with {', '.join(problems)}; the kit's own GGUF writer "
            "supports plain Llama only (SiLU, no biases, default RoPE, unquantized weights)."
        )
    n_head = raw["num_attention_heads"]
    head_dim = raw.get("head_dim") or raw["hidden_size"] // n_head
    return {
        "context": raw.get("max_position_embeddings", 2048),
        "hidden": raw["hidden_size"],
        "layers": raw["num_hidden_layers"],
        "ffn": raw["intermediate_size"],
        "n_head": n_head,
        "n_kv_head": raw.get("num_key_value_heads") or n_head,
        "head_dim": head_dim,
        "rope_theta": rope.get("rope_theta", raw.get("rope_theta", 10000.0)),
        "rms_eps": raw.get("rms_norm_eps", 1e-6),
        "vocab_size": raw["vocab_size"],
        "tied": bool(raw.get("tie_word_embeddings", False)),
    }


def _add_model_metadata(writer, config: dict[str, Any], type: str) -> None:
    import gguf

    writer.add_context_length(config["context"])
    writer.add_embedding_length(config["hidden"])
    writer.add_block_count(config["layers"])
    writer.add_feed_forward_length(config["ffn"])
    writer.add_head_count(config["n_head"])
    writer.add_head_count_kv(config["n_kv_head"])
    if config["head_dim"] * config["n_head"] != config["hidden"]:
        writer.add_key_length(config["head_dim"])
        writer.add_value_length(config["head_dim"])
    writer.add_rope_freq_base(float(config["rope_theta"]))
    writer.add_rope_dimension_count(config["head_dim"])
    writer.add_layer_norm_rms_eps(float(config["rms_eps"]))
    writer.add_vocab_size(config["vocab_size"])
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if type == "f16" else gguf.LlamaFileType.MOSTLY_Q8_0)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


# --- tensors -------------------------------------------------------------------------------------------------------


def _gguf_name(hf_name: str) -> str | None:
    """llama.cpp's name for a Hugging Face Llama tensor; None for names it has no use for."""
    fixed = {
        "model.embed_tokens.weight": "token_embd.weight",
        "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight",
    }
    if hf_name in fixed:
        return fixed[hf_name]
    parts = hf_name.split(".")
    if len(parts) >= 5 and parts[:2] == ["model", "layers"] and parts[2].isdecimal() and parts[-1] == "weight":
        short = _LAYER_NAMES.get(".".join(parts[3:-1]))
        if short:
            return f"blk.{parts[2]}.{short}.weight"
    return None


def _safetensors_files(model_dir: Path) -> dict[str, Path]:
    """Tensor name → file holding it, for one model.safetensors or a sharded index."""
    from safetensors import safe_open

    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        return {name: model_dir / file for name, file in weight_map.items()}
    single = model_dir / "model.safetensors"
    if not single.is_file():
        raise FileNotFoundError(
            f"{model_dir} has no model.safetensors (nor a sharded index); GGUF is written from "
            "safetensors weights, e.g. a folder saved by merge or save_pretrained."
        )
    with safe_open(str(single), framework="pt") as fh:
        return dict.fromkeys(fh.keys(), single)


def _plan(model_dir: Path, config: dict[str, Any], type: str) -> list[dict[str, Any]]:
    """Every tensor to write, with its GGUF name, source, shape and storage type, checked before anything is written."""
    from safetensors import safe_open

    files = _safetensors_files(model_dir)
    expected = (
        ["model.embed_tokens.weight"]
        + [f"model.layers.{i}.{part}.weight" for i in range(config["layers"]) for part in _LAYER_NAMES]
        + ["model.norm.weight"]
    )
    if not config["tied"]:
        expected.append("lm_head.weight")
    missing = [name for name in expected if name not in files]
    if missing:
        raise ValueError(
            f"{model_dir} lacks {len(missing)} weight(s) a {config['layers']}-layer Llama needs, e.g. "
            f"{missing[0]!r}; the folder is incomplete. Re-run the merge or re-save the model."
        )
    unknown = [n for n in files if _gguf_name(n) is None and not n.endswith(_IGNORED)]
    if unknown:
        raise GGUFNotSupported(
            f"{model_dir} has weights a plain Llama does not, e.g. {unknown[0]!r}; the kit's own "
            "writer would drop them."
        )
    shapes: dict[str, tuple[int, ...]] = {}
    for file in set(files.values()):
        with safe_open(str(file), framework="pt") as fh:
            shapes.update({n: tuple(fh.get_slice(n).get_shape()) for n in fh.keys()})
    return [
        {
            "hf": name,
            "name": _gguf_name(name),
            "file": files[name],
            "shape": shapes[name],
            "qtype": _storage_type(shapes[name], type),
        }
        for name in expected
    ]


def _storage_type(shape: tuple[int, ...], type: str) -> str:
    if len(shape) < 2:
        return "f32"
    if type == "q8_0" and shape[-1] % Q8_BLOCK == 0:
        return "q8_0"
    return "f16"


def _rope_rows(weight, n_head: int):
    """Interleave each head's two rotary halves (HF rotate_half order → llama.cpp adjacent pairs); acts on rows."""
    rows = weight.shape[0]
    return weight.reshape(n_head, 2, rows // n_head // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def _read(path: Path, name: str):
    import numpy as np
    import torch
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        # bf16 has no numpy dtype; f32 holds every bf16/f16 value exactly.
        return np.ascontiguousarray(fh.get_tensor(name).to(torch.float32).numpy())


def _load_model_tensor(item: dict[str, Any], config: dict[str, Any]):
    weight = _read(item["file"], item["hf"])
    if item["hf"].endswith("self_attn.q_proj.weight"):
        weight = _rope_rows(weight, config["n_head"])
    elif item["hf"].endswith("self_attn.k_proj.weight"):
        weight = _rope_rows(weight, config["n_kv_head"])
    return _encode(weight, item)


def _encode(weight, item: dict[str, Any]):
    import gguf
    import numpy as np

    if not np.isfinite(weight).all():
        raise ValueError(
            f"{item['hf']} in {item['file']} contains NaN or infinite values; the model is broken "
            "(a diverged run?). Do not export it."
        )
    if item["qtype"] == "f32":
        return weight
    if item["qtype"] == "f16":
        peak = float(np.abs(weight).max(initial=0.0))
        if peak > F16_MAX:
            raise ValueError(
                f"{item['hf']} has values up to {peak:.3g}, beyond float16's {F16_MAX:.0f}; this GGUF "
                "would hold infinities there. Convert with llama.cpp's convert_hf_to_gguf.py --outtype "
                "bf16 instead."
            )
        return weight.astype(np.float16)
    return gguf.quants.quantize(weight, gguf.GGMLQuantizationType.Q8_0)


def _tensor_info(writer, item: dict[str, Any]) -> None:
    import gguf
    import numpy as np

    if item["qtype"] == "q8_0":
        qtype = gguf.GGMLQuantizationType.Q8_0
        byte_shape = gguf.quants.quant_shape_to_byte_shape(item["shape"], qtype)
        writer.add_tensor_info(item["name"], byte_shape, np.dtype(np.uint8), math.prod(byte_shape), raw_dtype=qtype)
    else:
        dtype = np.dtype(np.float32 if item["qtype"] == "f32" else np.float16)
        writer.add_tensor_info(item["name"], item["shape"], dtype, math.prod(item["shape"]) * dtype.itemsize)


def _writer(name: str, kind: str):
    import gguf

    writer = gguf.GGUFWriter(None, "llama")
    writer.add_type(kind)
    writer.add_name(name)
    return writer


def _stream(
    writer,
    path: Path,
    plan: list[dict[str, Any]],
    load: Callable[[dict[str, Any]], Any],
    desc: str,
    progress: bool | None,
) -> None:
    """Header first, then one tensor at a time: memory stays at one tensor, whatever the model's size."""
    from ft_jupyter.progress import progress_bar

    for item in plan:
        _tensor_info(writer, item)
    writer.write_header_to_file(path=path)
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    try:
        with progress_bar(len(plan), desc, unit="tensors", progress=progress) as bar:
            for item in plan:
                writer.write_tensor_data(load(item))
                bar.update()
    finally:
        writer.close()


# --- LoRA adapters -------------------------------------------------------------------------------------------------


def _lora_plan(adapter_dir: Path, base_dir: Path, config: dict[str, Any]) -> tuple[float, list[dict[str, Any]]]:
    from safetensors import safe_open

    cfg_path, weights = adapter_dir / "adapter_config.json", adapter_dir / "adapter_model.safetensors"
    if not cfg_path.is_file() or not weights.is_file():
        raise FileNotFoundError(
            f"{adapter_dir} is not a saved PEFT adapter (needs adapter_config.json and "
            "adapter_model.safetensors, as model.save_pretrained(folder) writes them)."
        )
    peft = json.loads(cfg_path.read_text(encoding="utf-8"))
    # Each of these changes the model beyond W + alpha/r·B·A on a projection, which is all llama.cpp applies.
    problems = [
        what
        for what, bad in (
            (f"peft_type {peft.get('peft_type')!r}", peft.get("peft_type") != "LORA"),
            ("use_dora", peft.get("use_dora")),
            (f"modules_to_save {peft.get('modules_to_save')}", peft.get("modules_to_save")),
            (f"bias {peft.get('bias')!r}", peft.get("bias", "none") != "none"),
            ("lora_bias", peft.get("lora_bias")),
            ("trainable_token_indices", peft.get("trainable_token_indices")),
            ("alpha_pattern", peft.get("alpha_pattern")),
            ("use_rslora with rank_pattern", peft.get("use_rslora") and peft.get("rank_pattern")),
        )
        if bad
    ]
    with safe_open(str(weights), framework="pt") as fh:
        shapes = {n: tuple(fh.get_slice(n).get_shape()) for n in fh.keys()}
    pairs = []
    for name in sorted(n for n in shapes if n.endswith(".lora_A.weight")):
        base = name.removeprefix("base_model.model.").replace(".lora_A.weight", ".weight")
        b_name = name.replace(".lora_A.", ".lora_B.")
        out_in = _projection_shape(base, config)
        if out_in is None:
            problems.append(f"an adapter on {base}")
            continue
        if b_name not in shapes or (shapes[b_name][0], shapes[name][1]) != out_in:
            raise ValueError(
                f"{adapter_dir}: the LoRA on {base} does not fit the base model in {base_dir} (its "
                f"weight is {out_in[0]}×{out_in[1]}); was the adapter trained on another base model?"
            )
        target = _gguf_name(base)
        pairs.append({"hf": name, "name": f"{target}.lora_a", "file": weights, "shape": shapes[name], "qtype": "f16"})
        pairs.append(
            {
                "hf": b_name,
                "name": f"{target}.lora_b",
                "file": weights,
                "shape": shapes[b_name],
                "qtype": "f16",
                "base": base,
            }
        )
    if problems or not pairs:
        raise GGUFNotSupported(
            f"{adapter_dir} has {', '.join(problems) or 'no LoRA weights'}; a LoRA GGUF carries "
            "plain LoRA on the attention and MLP projections only. Merge the adapter and write "
            "the merged model with write_gguf instead."
        )
    # llama.cpp scales by alpha / rank; rank-stabilised LoRA scales by alpha / sqrt(rank), so fold the difference in.
    alpha = float(peft["lora_alpha"]) * (math.sqrt(peft["r"]) if peft.get("use_rslora") else 1.0)
    return alpha, pairs


def _projection_shape(hf_name: str, config: dict[str, Any]) -> tuple[int, int] | None:
    """(out, in) of a block's linear projection in the base model; None for anything else."""
    parts = hf_name.split(".")
    if _gguf_name(hf_name) is None or not parts[2].isdecimal() or int(parts[2]) >= config["layers"]:
        return None
    q, kv, hidden, ffn = (
        config["n_head"] * config["head_dim"],
        config["n_kv_head"] * config["head_dim"],
        config["hidden"],
        config["ffn"],
    )
    return {
        "self_attn.q_proj": (q, hidden),
        "self_attn.k_proj": (kv, hidden),
        "self_attn.v_proj": (kv, hidden),
        "self_attn.o_proj": (hidden, q),
        "mlp.gate_proj": (ffn, hidden),
        "mlp.up_proj": (ffn, hidden),
        "mlp.down_proj": (hidden, ffn),
    }.get(".".join(parts[3:-1]))


def _load_lora_tensor(item: dict[str, Any], config: dict[str, Any]):
    weight = _read(item["file"], item["hf"])
    base = item.get("base", "")
    if base.endswith("self_attn.q_proj.weight"):
        weight = _rope_rows(weight, config["n_head"])
    elif base.endswith("self_attn.k_proj.weight"):
        weight = _rope_rows(weight, config["n_kv_head"])
    return _encode(weight, item)
