"""Load the model for training in the chosen precision/quantization and apply the method (LoRA, full, freeze)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ft_jupyter.config import ConfigError, RunConfig
from ft_jupyter.models.catalogue import resolve
from ft_jupyter.models.loading import load_model, load_tokenizer, weights_dtype
from ft_jupyter.train.translate import Precision, bnb_config, peft_config


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    source: str  # the folder or hub id it came from
    params_total: int
    params_trainable: int


def count_parameters(model) -> tuple[int, int]:
    total = trainable = 0
    for p in model.parameters():
        n = p.numel()
        # bitsandbytes packs two 4-bit values per byte; count real weights, as peft does.
        if p.__class__.__name__ == "Params4bit":
            n *= 2
        total += n
        if p.requires_grad:
            trainable += n
    return total, trainable


def load_base_model(config: RunConfig, precision: Precision, source: str):
    import torch

    quant = bnb_config(config, precision)
    device_map = None
    if quant is not None:
        # In a multi-process launch each process owns the GPU of its LOCAL_RANK; accelerate has not switched the
        # current device yet when the model loads, so current_device() would put every rank on cuda:0.
        gpu = int(os.environ.get("LOCAL_RANK", torch.cuda.current_device())) if precision.device == "cuda" else None
        device_map = {"": gpu if gpu is not None else "cpu"}
    dtype = weights_dtype(config.model, precision.name, config.method.method)
    model = load_model(config.model, dtype, source=source, quantization=quant, device_map=device_map)
    if config.quantization.mode == "4bit" and precision.device == "cpu":
        _disable_cpu_inference_repack(model)
    return model


def _disable_cpu_inference_repack(model) -> None:
    """On CPUs with avx512_bf16, bitsandbytes repacks 4-bit weights into an inference-only layout on first use, after
    which backward fails; keep the trainable layout."""
    import bitsandbytes as bnb

    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False


def _decoder_layers(model, method: str):
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    layers = getattr(decoder, "layers", None)
    if layers is None:
        raise ConfigError(
            f"method {method!r} needs a decoder with a .layers list; {type(model).__name__} has none. "
            "Use lora or full instead."
        )
    return layers


def train_top_blocks(model, config: RunConfig) -> None:
    """Let the top method.freeze_train_blocks decoder blocks train (freeze and head runs; the rest stays as it is)."""
    k = config.method.freeze_train_blocks
    layers = _decoder_layers(model, config.method.method)
    if k > len(layers):
        raise ConfigError(
            f"method.freeze_train_blocks = {k} but the model has only {len(layers)} blocks; use at most {len(layers)}."
        )
    for layer in list(layers)[len(layers) - k :]:
        for p in layer.parameters():
            p.requires_grad_(True)


def apply_method(model, config: RunConfig):
    """Return the model ready to train: wrapped with LoRA, fully trainable, or frozen except the top."""
    method = config.method
    if method.uses_lora:
        from peft import get_peft_model, prepare_model_for_kbit_training

        if config.quantization.mode != "none":
            model = prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=config.training.gradient_checkpointing
            )
        elif config.training.gradient_checkpointing:
            model.enable_input_require_grads()
        return get_peft_model(model, peft_config(config))
    if method.method == "full":
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    # freeze: the "feature extraction" end of the spectrum, with the top blocks and/or the head still learning.
    for p in model.parameters():
        p.requires_grad_(False)
    train_top_blocks(model, config)
    if method.freeze_train_head:
        for p in model.get_output_embeddings().parameters():
            p.requires_grad_(True)
    if config.training.gradient_checkpointing:
        model.enable_input_require_grads()
    return model


def load_for_training(config: RunConfig, precision: Precision) -> LoadedModel:
    source = resolve(config.model.name, revision=config.model.revision)
    tokenizer = load_tokenizer(config.model, source)
    model = apply_method(load_base_model(config, precision, source), config)
    total, trainable = count_parameters(model)
    return LoadedModel(model, tokenizer, source, total, trainable)
