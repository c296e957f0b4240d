"""Load a model (and optionally a trained adapter) for generation and evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_for_inference(name: str, *, adapter: str | Path | None = None, dtype: str = "auto",
                       trust_remote_code: bool = False) -> tuple[Any, Any]:
    """(model, tokenizer) for a catalogue name, hub id or folder; with `adapter`, the LoRA adapter is attached."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ft_jupyter.models.catalogue import resolve

    source = resolve(name)
    cuda = torch.cuda.is_available()
    if dtype == "auto":
        torch_dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if cuda else torch.float32
    else:
        torch_dtype = getattr(torch, dtype)
    tokenizer = AutoTokenizer.from_pretrained(str(adapter or source), trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, trust_remote_code=trust_remote_code)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    if cuda:
        model = model.to("cuda")
    model.eval()
    return model, tokenizer
