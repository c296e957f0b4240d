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
    """Rows of a clean bundled dataset (the dirty twin is read through the validating loader instead)."""
    path = bundled_path(name)
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def bundled_texts() -> list[str]:
    """All clean bundled text, e.g. to train the tiny model's tokenizer."""
    return [row["text"] for name in ("support-emails", "general-text") for row in load_bundled(name)]
