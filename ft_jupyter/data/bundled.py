"""Datasets shipped with the package, loadable by name."""

from __future__ import annotations

import json
from pathlib import Path

from ft_jupyter.config import ConfigError

BUNDLED_DIR = Path(__file__).with_name("bundled")
BUNDLED = {
    "support-emails": "support_emails.jsonl",
    "support-emails-dirty": "support_emails_dirty.jsonl",
    "general-text": "general_text.jsonl",
}
SUPPORT_LABELS = ("complaint", "question", "feedback", "billing", "bug_report")


def bundled_path(name: str) -> Path:
    if name not in BUNDLED:
        raise ConfigError(f"Unknown bundled dataset {name!r}; choose one of {', '.join(BUNDLED)} or give a file path.")
    return BUNDLED_DIR / BUNDLED[name]


def load_bundled(name: str) -> list[dict]:
    """Raw rows of a clean bundled dataset. The dirty twin is refused here with its first located problem: read it
    with `load.load_data("support-emails-dirty", strict=False)` to get the rows that pass and a report of the rest."""
    path = bundled_path(name)
    rows = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"{path.name}:{lineno}: invalid JSON ({exc.msg}); load {name!r} with "
                    "ft_jupyter.data.load.load_data(..., strict=False) to skip bad rows."
                ) from None
            if not isinstance(row, dict):
                raise ConfigError(
                    f"{path.name}:{lineno}: not a JSON object; load {name!r} with "
                    "ft_jupyter.data.load.load_data(..., strict=False) to skip bad rows."
                )
            rows.append(row)
    return rows


def bundled_texts() -> list[str]:
    """All clean bundled text, e.g. to train the tiny model's tokenizer."""
    return [row["text"] for name in ("support-emails", "general-text") for row in load_bundled(name)]
