"""How every path loads a model: its tokenizer (training, inference, estimates, the data commands, export), the
dtype its weights load in, and the `from_pretrained` call for its weights (training, inference, export).

Each takes the run config's `model` section, so a model's revision, trust_remote_code and catalogue name mean the
same everywhere. What only training adds to the weights (the BitsAndBytesConfig, the method: LoRA, full, freeze)
stays in ft_jupyter.train, the one place a RunConfig becomes Hugging Face objects.

    >>> tokenizer = load_tokenizer(config.model)          # pad token set: the eos token when the model has none
    >>> dtype = weights_dtype(config.model, hardware_precision())
    >>> model = load_model(config.model, dtype)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ft_jupyter.config import ModelConfig
from ft_jupyter.models.catalogue import local_source, resolve

# model.dtype's names for the precisions ("fp32", "bf16", "fp16") that training.precision and the estimates use.
DTYPE_NAMES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
# Methods whose base weights train: under fp16 mixed precision those keep fp32 master weights.
TRAINS_BASE_WEIGHTS = ("full", "freeze", "head")


def load_tokenizer(model: ModelConfig, source: str | Path | None = None) -> Any:
    """`model`'s tokenizer with its revision and trust_remote_code, and a pad token (the eos token when it has
    none: batches need one). `source`: where to read it instead of the catalogue's folder or hub id for
    model.name, e.g. a run's adapter/ or model/ folder, whose tokenizer is the one the run trained with."""
    from transformers import AutoTokenizer

    source = resolve(model.name, revision=model.revision) if source is None else source
    tokenizer = AutoTokenizer.from_pretrained(
        str(source), revision=model.revision, trust_remote_code=model.trust_remote_code
    )
    return _with_pad_token(tokenizer)


def local_tokenizer(model: ModelConfig) -> Any | None:
    """`load_tokenizer(model)` when the model's files are on this machine already, else None: never downloads and
    never converts the bundled model (estimates then count tokens from characters)."""
    source = local_source(model.name)
    if source is None:
        return None
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(
            source, revision=model.revision, trust_remote_code=model.trust_remote_code, local_files_only=True
        )
    except (OSError, ValueError):  # no tokenizer files here
        return None
    return _with_pad_token(tokenizer)


def _with_pad_token(tokenizer: Any) -> Any:
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token  # padding is masked out of the loss and attention
    return tokenizer


def hardware_precision() -> str:
    """The compute precision this machine does best: bf16 on a GPU that supports it, fp16 on an older GPU, fp32 on
    a CPU (and on Apple's MPS)."""
    import torch

    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def weights_dtype(model: ModelConfig, precision: str, method: str | None = None) -> str:
    """ "fp32" | "bf16" | "fp16": the dtype the weights load in when computing in `precision`. model.dtype when set,
    else `precision`, except fp32 when `method` (the training method; None for inference) trains base weights
    under fp16: mixed precision keeps fp32 master weights, and fp16 ones would break gradient unscaling."""
    if model.dtype != "auto":
        return {name: short for short, name in DTYPE_NAMES.items()}[model.dtype]
    if method in TRAINS_BASE_WEIGHTS and precision == "fp16":
        return "fp32"
    return precision


def torch_dtype(precision: str) -> Any:
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def load_model(
    model: ModelConfig,
    dtype: str,
    *,
    source: str | Path | None = None,
    quantization: Any = None,
    device_map: dict[str, Any] | None = None,
) -> Any:
    """`model`'s weights as a causal language model in `dtype` ("fp32" | "bf16" | "fp16", see `weights_dtype`),
    with its revision and trust_remote_code. `source`: a folder to read instead of model.name's; `quantization`: a
    BitsAndBytesConfig (built by ft_jupyter.train), with the `device_map` it needs."""
    from transformers import AutoModelForCausalLM

    source = resolve(model.name, revision=model.revision) if source is None else source
    extra: dict[str, Any] = {}
    if quantization is not None:
        extra["quantization_config"] = quantization
    if device_map is not None:
        extra["device_map"] = device_map
    return AutoModelForCausalLM.from_pretrained(
        str(source),
        dtype=torch_dtype(dtype),
        revision=model.revision,
        trust_remote_code=model.trust_remote_code,
        **extra,
    )
