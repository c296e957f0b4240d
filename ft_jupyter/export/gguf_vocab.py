"""The tokenizer of a Hugging Face folder as GGUF metadata: what llama.cpp (and so Ollama) tokenizes with.

Only byte-level BPE tokenizers (GPT-2 style: SmolLM2, tiny-random) map onto llama.cpp's "gpt2" vocabulary
directly: the token strings are already byte-level encoded, merges are copied, added special tokens become control
tokens (parsed from text only when a caller asks for special tokens, as Hugging Face does) and other added tokens
user-defined ones. llama.cpp does not read the pre-tokenizer from the file; it picks a built-in one by name, so the
name is chosen from the structure of tokenizer.json (see `_pre_tokenizer`).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from ft_jupyter.export.llama_cpp import GGUFNotSupported


def read_tokenizer(model_dir: Path) -> dict[str, Any]:
    """tokenizer.json of `model_dir`, or GGUFNotSupported when it is not byte-level BPE."""
    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{model_dir} has no tokenizer.json; save the tokenizer with the model (tokenizer.save_pretrained(folder))."
        )
    spec = json.loads(path.read_text(encoding="utf-8"))
    kind = (spec.get("model") or {}).get("type")
    if kind != "BPE" or (spec.get("decoder") or {}).get("type") != "ByteLevel":
        raise GGUFNotSupported(
            f"{path} is a {kind} tokenizer without byte-level decoding (SentencePiece-style, as "
            "in Llama 2 or Mistral?); the kit's own GGUF writer handles byte-level BPE only."
        )
    return spec


def add_vocabulary(writer, model_dir: Path, spec: dict[str, Any], vocab_size: int) -> None:
    import gguf
    from tokenizers import Tokenizer

    path = model_dir / "tokenizer.json"
    tokens, types = _tokens(spec["model"]["vocab"], spec.get("added_tokens", []), vocab_size, path)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_pre_tokenizer(spec, path))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=vocab_size)
    # What the tokenizer really does when asked to add special tokens, not what a config key claims: the ChatML
    # models here add nothing, and a BOS that llama.cpp adds but Hugging Face does not shifts every logit.
    tokenizer = Tokenizer.from_file(str(path))
    probe = tokenizer.encode("x", add_special_tokens=True).ids
    plain = tokenizer.encode("x", add_special_tokens=False).ids
    ids = special.special_token_ids
    special.add_special_token = {
        "bos": len(probe) > len(plain) and probe[0] == ids.get("bos"),
        "eos": len(probe) > len(plain) and probe[-1] == ids.get("eos"),
    }
    special.add_to_gguf(writer, quiet=True)


def _tokens(vocab: dict[str, int], added: list[dict[str, Any]], vocab_size: int, path: Path):
    from gguf import TokenType

    by_id = {i: t for t, i in vocab.items()}
    by_id.update({a["id"]: a["content"] for a in added})
    if by_id and max(by_id) >= vocab_size:
        raise ValueError(
            f"{path} has token id {max(by_id)} but config.json says vocab_size={vocab_size}; the "
            "tokenizer and the model do not belong together (resize the embeddings, or fix the folder)."
        )
    kinds = {a["id"]: TokenType.CONTROL if a.get("special") else TokenType.USER_DEFINED for a in added}
    # Rows the embedding has but the tokenizer never produces (vocab padded to a round size) still need a name.
    tokens = [by_id.get(i, f"[PAD{i}]") for i in range(vocab_size)]
    types = [kinds.get(i, TokenType.NORMAL if i in by_id else TokenType.UNUSED) for i in range(vocab_size)]
    return tokens, types


def _pre_tokenizer(spec: dict[str, Any], path: Path) -> str:
    """The llama.cpp pre-tokenizer name that splits text as tokenizer.json does: "gpt-2" for the GPT-2 regex alone,
    "smollm" for every digit on its own first and then the GPT-2 regex."""
    pre = spec.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    kinds = [s.get("type") for s in steps]
    byte_level = (
        bool(steps)
        and kinds[-1] == "ByteLevel"
        and steps[-1].get("use_regex", True)
        and not steps[-1].get("add_prefix_space", False)
    )
    if not spec.get("normalizer") and byte_level and len(steps) == 1:
        return "gpt-2"
    if (
        not spec.get("normalizer")
        and byte_level
        and kinds == ["Digits", "ByteLevel"]
        and steps[0].get("individual_digits")
    ):
        return "smollm"
    warnings.warn(
        f"{path}: pre-tokenizer {kinds or 'none'} (normalizer {spec.get('normalizer')}) is not one the "
        "kit recognises; writing it as 'gpt-2', so llama.cpp may split some text differently. Run "
        "gguf_check.check_with_llama_cpp to see, or convert with llama.cpp's convert_hf_to_gguf.py.",
        stacklevel=4,
    )
    return "gpt-2"
