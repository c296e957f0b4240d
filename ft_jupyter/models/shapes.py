"""Shapes of popular open-weight models, so estimates work offline without downloading a single file.

Each entry holds the fields of the model's `config.json` that decide its parameter count and memory (sizes, heads,
vocabulary, tied embeddings) and the license id from its model card. Instruct and base variants share a shape; the
aliases map both to one entry. The unit tests check every entry against the parameter count its model card states.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelShape:
    repo_id: str
    license: str  # SPDX-style id or the vendor's license name, as on the model card
    params: int  # parameter count the model card / safetensors index states
    fields: dict[str, Any]  # config.json fields; "model_type" picks the transformers architecture
    aliases: tuple[str, ...] = field(default=())


def _qwen25(
    size: str,
    hidden: int,
    inter: int,
    layers: int,
    heads: int,
    kv: int,
    vocab: int,
    tied: bool,
    params: int,
    license: str = "apache-2.0",
) -> ModelShape:
    return ModelShape(
        f"Qwen/Qwen2.5-{size}-Instruct",
        license,
        params,
        dict(
            model_type="qwen2",
            hidden_size=hidden,
            intermediate_size=inter,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=kv,
            vocab_size=vocab,
            tie_word_embeddings=tied,
            max_position_embeddings=32768,
        ),
        aliases=(f"Qwen/Qwen2.5-{size}",),
    )


def _llama3(
    repo: str,
    license: str,
    hidden: int,
    inter: int,
    layers: int,
    heads: int,
    tied: bool,
    params: int,
    aliases: tuple[str, ...],
) -> ModelShape:
    return ModelShape(
        repo,
        license,
        params,
        dict(
            model_type="llama",
            hidden_size=hidden,
            intermediate_size=inter,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=8,
            vocab_size=128256,
            tie_word_embeddings=tied,
            max_position_embeddings=131072,
        ),
        aliases=aliases,
    )


def _smollm2(size: str, hidden: int, inter: int, layers: int, heads: int, kv: int, params: int) -> ModelShape:
    return ModelShape(
        f"HuggingFaceTB/SmolLM2-{size}-Instruct",
        "apache-2.0",
        params,
        dict(
            model_type="llama",
            hidden_size=hidden,
            intermediate_size=inter,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=kv,
            vocab_size=49152,
            tie_word_embeddings=True,
            max_position_embeddings=8192,
        ),
        aliases=(f"HuggingFaceTB/SmolLM2-{size}",),
    )


def _mistral(repo: str, vocab: int, params: int, aliases: tuple[str, ...]) -> ModelShape:
    return ModelShape(
        repo,
        "apache-2.0",
        params,
        dict(
            model_type="mistral",
            hidden_size=4096,
            intermediate_size=14336,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=8,
            vocab_size=vocab,
            tie_word_embeddings=False,
            max_position_embeddings=32768,
        ),
        aliases=aliases,
    )


def _gemma(
    repo: str,
    model_type: str,
    hidden: int,
    inter: int,
    layers: int,
    heads: int,
    kv: int,
    vocab: int,
    params: int,
    aliases: tuple[str, ...],
) -> ModelShape:
    return ModelShape(
        repo,
        "gemma",
        params,
        dict(
            model_type=model_type,
            hidden_size=hidden,
            intermediate_size=inter,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=kv,
            head_dim=256,
            vocab_size=vocab,
            tie_word_embeddings=True,
        ),
        aliases=aliases,
    )


SHAPES: tuple[ModelShape, ...] = (
    _qwen25("0.5B", 896, 4864, 24, 14, 2, 151936, True, 494_032_768),
    _qwen25("1.5B", 1536, 8960, 28, 12, 2, 151936, True, 1_543_714_304),
    # Qwen2.5-3B is the one size of the family under the Qwen Research license (non-commercial).
    _qwen25("3B", 2048, 11008, 36, 16, 2, 151936, True, 3_085_938_688, license="qwen-research"),
    _qwen25("7B", 3584, 18944, 28, 28, 4, 152064, False, 7_615_616_512),
    _llama3(
        "meta-llama/Llama-3.2-1B-Instruct",
        "llama3.2",
        2048,
        8192,
        16,
        32,
        True,
        1_235_814_400,
        ("meta-llama/Llama-3.2-1B",),
    ),
    _llama3(
        "meta-llama/Llama-3.2-3B-Instruct",
        "llama3.2",
        3072,
        8192,
        28,
        24,
        True,
        3_212_749_824,
        ("meta-llama/Llama-3.2-3B",),
    ),
    _llama3(
        "meta-llama/Llama-3.1-8B-Instruct",
        "llama3.1",
        4096,
        14336,
        32,
        32,
        False,
        8_030_261_248,
        ("meta-llama/Llama-3.1-8B", "meta-llama/Meta-Llama-3.1-8B-Instruct", "meta-llama/Meta-Llama-3.1-8B"),
    ),
    _llama3(
        "meta-llama/Meta-Llama-3-8B-Instruct",
        "llama3",
        4096,
        14336,
        32,
        32,
        False,
        8_030_261_248,
        ("meta-llama/Meta-Llama-3-8B",),
    ),
    _mistral("mistralai/Mistral-7B-Instruct-v0.3", 32768, 7_248_023_552, ("mistralai/Mistral-7B-v0.3",)),
    _mistral(
        "mistralai/Mistral-7B-Instruct-v0.2",
        32000,
        7_241_732_096,
        ("mistralai/Mistral-7B-v0.1", "mistralai/Mistral-7B-Instruct-v0.1"),
    ),
    _smollm2("135M", 576, 1536, 30, 9, 3, 134_515_008),
    _smollm2("360M", 960, 2560, 32, 15, 5, 361_821_120),
    _smollm2("1.7B", 2048, 8192, 24, 32, 32, 1_711_376_384),
    _gemma("google/gemma-2-2b-it", "gemma2", 2304, 9216, 26, 8, 4, 256000, 2_614_341_888, ("google/gemma-2-2b",)),
    _gemma("google/gemma-3-1b-it", "gemma3_text", 1152, 6912, 26, 4, 1, 262144, 999_885_952, ("google/gemma-3-1b-pt",)),
    _gemma("google/gemma-3-270m-it", "gemma3_text", 640, 2048, 18, 4, 1, 262144, 268_098_176, ("google/gemma-3-270m",)),
)

# The bundled catalogue model is SmolLM2-135M-Instruct; its table shape serves before the one-time conversion.
CATALOGUE_SHAPES = {"smollm2-135m-instruct": "HuggingFaceTB/SmolLM2-135M-Instruct"}

_BY_NAME = {name.lower(): shape for shape in SHAPES for name in (shape.repo_id, *shape.aliases)}


def find_shape(name: str) -> ModelShape | None:
    """The table entry for a hub id or alias (case-insensitive), or None."""
    return _BY_NAME.get(CATALOGUE_SHAPES.get(name, name).strip().lower())


def table_names() -> list[str]:
    return [shape.repo_id for shape in SHAPES]
