"""Checks on one converted conversation: every role known, no empty turns, ends with the answer, not absurdly long.

Each check returns what is wrong and how to fix it; `load.load_data` adds where the row is.
"""

from __future__ import annotations

import difflib
from typing import Any

ROLES = ("system", "user", "assistant", "tool")
# Names other tools use for the same roles: suggested instead of a bare "unknown role".
_ROLE_ALIASES = {
    "human": "user",
    "prompter": "user",
    "gpt": "assistant",
    "bot": "assistant",
    "model": "assistant",
    "ai": "assistant",
    "chatbot": "assistant",
    "function": "tool",
    "developer": "system",
}
DEFAULT_MAX_ROW_CHARS = 6000


def _role_fix(role: Any) -> str:
    name = str(role).strip().lower()
    if name in _ROLE_ALIASES:
        return f"Use {_ROLE_ALIASES[name]!r} instead of {role!r}."
    close = difflib.get_close_matches(name, ROLES, n=1, cutoff=0.6)
    if close:
        return f"Did you mean {close[0]!r}? Roles must be one of {', '.join(ROLES)}."
    return f"Roles must be one of {', '.join(ROLES)}."


def check_messages(
    messages: list[dict[str, Any]], *, max_chars: int = DEFAULT_MAX_ROW_CHARS, empty_prompt_ok: bool = False
) -> tuple[str, str, str] | None:
    """The first problem of one conversation as (what, fix, code), or None when it is fit to train on.

    `empty_prompt_ok`: plain-text rows are an empty user turn followed by the text, by construction.
    """
    if not messages:
        return "has no messages.", "Each row needs at least a user message and the assistant's answer.", "no-messages"
    for i, m in enumerate(messages):
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            return f"message {i} has the unknown role {role!r}.", _role_fix(role), "unknown-role"
        if not isinstance(content, str):
            return (
                f"message {i} ({role}) has {type(content).__name__} content, not text.",
                "Give every message its text as a string.",
                "wrong-type",
            )
        if not content.strip() and not (empty_prompt_ok and i == 0 and role == "user"):
            return (
                f"message {i} ({role}) is empty.",
                "Write the missing text or drop the row; an empty turn teaches nothing or teaches silence.",
                "empty-content",
            )
    if messages[-1]["role"] != "assistant":
        return (
            f"ends with a {messages[-1]['role']} message, not the assistant's answer.",
            "End every row with the assistant turn the model should learn (drop trailing turns).",
            "not-ending-with-assistant",
        )
    if not any(m["role"] == "user" for m in messages):
        return "has no user message.", "Put the user's message before the answer.", "no-user-turn"
    size = sum(len(m["content"]) for m in messages)
    if size > max_chars:
        return (
            f"is {size:,} characters long (limit {max_chars:,}): likely a pasted log, a merged export or a "
            "repeated signature.",
            "Trim or drop the row, or raise data.max_row_chars if such rows are real.",
            "too-long",
        )
    return None
