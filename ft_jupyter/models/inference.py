"""Load a model (and optionally a trained adapter) for generation and evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _inference_dtype(dtype: str):
    import torch

    if dtype != "auto":
        return getattr(torch, dtype)
    if torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load_for_inference(
    name: str, *, adapter: str | Path | None = None, dtype: str = "auto", trust_remote_code: bool = False
) -> tuple[Any, Any]:
    """(model, tokenizer) for a catalogue name, hub id or folder; with `adapter`, the LoRA adapter is attached."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ft_jupyter.models.catalogue import resolve

    source = resolve(name)
    tokenizer = AutoTokenizer.from_pretrained(str(adapter or source), trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(
        source, dtype=_inference_dtype(dtype), trust_remote_code=trust_remote_code
    )
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
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=trust_remote_code)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(folder), dtype=_inference_dtype(dtype), trust_remote_code=trust_remote_code
    )
    if torch.cuda.is_available():
        model = model.to("cuda")
    model.eval()
    return model, tokenizer
