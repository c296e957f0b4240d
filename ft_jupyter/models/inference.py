"""Load a model (and optionally a trained adapter) for generation and evaluation, through models.loading: the same
tokenizer rules as training, and the weights in the precision this machine computes best in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ft_jupyter.config import ModelConfig
from ft_jupyter.models.catalogue import resolve
from ft_jupyter.models.loading import hardware_precision, load_model, load_tokenizer, torch_dtype, weights_dtype


def load_for_inference(
    name: str,
    *,
    adapter: str | Path | None = None,
    dtype: str = "auto",
    trust_remote_code: bool = False,
    revision: str | None = None,
) -> tuple[Any, Any]:
    """(model, tokenizer) for a catalogue name, hub id or folder; with `adapter`, the LoRA adapter is attached and
    the tokenizer is the one saved with it. dtype: "auto" (bf16/fp16 on a GPU, fp32 on CPU) or a model.dtype."""
    import torch

    model_config = ModelConfig(name=name, revision=revision, trust_remote_code=trust_remote_code, dtype=dtype)
    source = resolve(name, revision=revision)
    tokenizer = load_tokenizer(model_config, adapter or source)
    model = load_model(model_config, weights_dtype(model_config, hardware_precision()), source=source)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    if torch.cuda.is_available():
        model = model.to("cuda")
    model.eval()
    return model, tokenizer


def load_classifier_for_inference(
    folder: str | Path, *, dtype: str = "auto", trust_remote_code: bool = False
) -> tuple[Any, Any]:
    """(model, tokenizer) of a classification-head run's saved model/ folder (method "head")."""
    import torch
    from transformers import AutoModelForSequenceClassification

    model_config = ModelConfig(name=str(folder), trust_remote_code=trust_remote_code, dtype=dtype)
    tokenizer = load_tokenizer(model_config, folder)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(folder),
        dtype=torch_dtype(weights_dtype(model_config, hardware_precision())),
        trust_remote_code=trust_remote_code,
    )
    if torch.cuda.is_available():
        model = model.to("cuda")
    model.eval()
    return model, tokenizer
