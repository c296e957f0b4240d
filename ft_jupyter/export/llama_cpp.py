"""What the kit's GGUF writer hands back, what it raises when it cannot write a model, and llama.cpp's own converter,
which the writer runs instead when $FT_JUPYTER_LLAMA_CPP names a llama.cpp checkout (else the error gives the command).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ft_jupyter.export.folder import staged

LLAMA_CPP_ENV = "FT_JUPYTER_LLAMA_CPP"


class GGUFNotSupported(ValueError):
    """The kit's own writer cannot write this model; the message says what llama.cpp command can."""


@dataclass(frozen=True)
class GGUFFile:
    path: Path
    type: str  # f16 / q8_0 for a model, f16 for an adapter
    bytes: int
    tensors: int
    seconds: float


def upstream_converter() -> Path | None:
    """llama.cpp's convert_hf_to_gguf.py in the checkout that $FT_JUPYTER_LLAMA_CPP names, or None when unset."""
    root = os.environ.get(LLAMA_CPP_ENV, "").strip()
    if not root:
        return None
    script = Path(root).expanduser() / "convert_hf_to_gguf.py"
    if not script.is_file():
        raise FileNotFoundError(
            f"{LLAMA_CPP_ENV}={root} has no convert_hf_to_gguf.py; point it at a llama.cpp "
            f"checkout (git clone --depth 1 https://github.com/ggml-org/llama.cpp) or unset it."
        )
    return script


def with_llama_cpp(
    exc: GGUFNotSupported, script: str, args: list[str], out_path: Path, type: str, started: float
) -> GGUFFile:
    """Run llama.cpp's `script` for what the kit's writer refused with `exc`; without a checkout, `exc` with the
    command to run."""
    converter = upstream_converter()
    if converter is None:
        # The kit's environment has everything the converters import but sentencepiece; llama.cpp's requirements
        # file would replace its torch with an older one.
        command = " ".join([f"python llama.cpp/{script}", *args, "--outfile", str(out_path)])
        raise GGUFNotSupported(
            f"{exc} llama.cpp's converter handles it: git clone --depth 1 "
            f"https://github.com/ggml-org/llama.cpp && pip install sentencepiece && {command}  (or "
            f"set {LLAMA_CPP_ENV}=<that checkout> and ft-jupyter runs it for you)."
        ) from None
    return _run_upstream([str(converter.with_name(script)), *args], out_path, type, started)


def _run_upstream(args: list[str], out_path: Path, type: str, started: float) -> GGUFFile:
    import gguf

    with staged(out_path) as tmp:
        done = subprocess.run([sys.executable, *args, "--outfile", str(tmp)], capture_output=True, text=True)
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise RuntimeError(
                f"llama.cpp's {Path(args[0]).name} failed (exit {done.returncode}); its last lines:\n{tail}"
            )
        tensors = len(gguf.GGUFReader(tmp).tensors)
    return GGUFFile(out_path, type, out_path.stat().st_size, tensors, time.perf_counter() - started)
