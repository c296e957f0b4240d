"""Tiny configs of several architectures, shared by the estimate tests."""

import json

# Tiny configs of the architectures the estimates must get exactly right: tied and untied, GQA, q/k/v biases
# (Qwen2), sliding window (Mistral), Gemma's extra norms, per-head q/k norms and 256-wide heads.
TINY_SHAPES = {
    "llama-tied": dict(
        model_type="llama",
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=300,
        tie_word_embeddings=True,
    ),
    "llama-untied-bias": dict(
        model_type="llama",
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        vocab_size=280,
        tie_word_embeddings=False,
        attention_bias=True,
        mlp_bias=True,
    ),
    "qwen2": dict(
        model_type="qwen2",
        hidden_size=64,
        intermediate_size=160,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=320,
        tie_word_embeddings=True,
    ),
    "mistral": dict(
        model_type="mistral",
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=8,
        num_key_value_heads=2,
        vocab_size=256,
        tie_word_embeddings=False,
        sliding_window=32,
    ),
    "gemma2": dict(
        model_type="gemma2",
        hidden_size=48,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        vocab_size=256,
        tie_word_embeddings=True,
    ),
    "gemma3": dict(
        model_type="gemma3_text",
        hidden_size=48,
        intermediate_size=128,
        num_hidden_layers=3,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        vocab_size=262,
        tie_word_embeddings=True,
    ),
}


def write_config(folder, fields):
    """A model folder with only a config.json, as transformers would save it."""
    from transformers import AutoConfig

    fields = dict(fields)
    config = AutoConfig.for_model(fields.pop("model_type"), **fields)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config.to_dict()), encoding="utf-8")
    return folder
