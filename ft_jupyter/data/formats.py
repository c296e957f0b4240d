"""Row formats people actually have, detected and converted to the conversational `messages` form TRL trains on.

messages (ChatML/OpenAI), sharegpt (`conversations` of from/value), alpaca (instruction/input/output, optional
system), prompt-completion (strings or message lists), classification (text + label, turned into an instruction)
and plain text. Conversion keeps every character; single-turn conversations convert back to Alpaca unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from ft_jupyter.config import ConfigError

FORMATS = ("messages", "alpaca", "sharegpt", "prompt-completion", "classification", "text")
# The fields a row must have, per format: detection looks for them, conversion reports the ones missing.
REQUIRED = {
    "messages": ("messages",),
    "sharegpt": ("conversations",),
    "alpaca": ("instruction", "output"),
    "prompt-completion": ("prompt", "completion"),
    "classification": ("text", "label"),
    "text": ("text",),
}
FIELDS = (
    "messages",
    "conversations",
    "instruction",
    "input",
    "output",
    "system",
    "prompt",
    "completion",
    "text",
    "label",
    "id",
)
_SHAREGPT_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "bot": "assistant",
    "model": "assistant",
}


class RowError(ConfigError):
    """One row that does not fit its format: what is wrong and how to fix it (the caller adds where)."""

    def __init__(self, what: str, fix: str, code: str):
        super().__init__(f"{what} {fix}")
        self.what, self.fix, self.code = what, fix, code


def detect_format(row: dict[str, Any]) -> str:
    """Name the format of one row from its keys; raise ConfigError when it matches none."""
    keys = set(row)
    for fmt in ("messages", "sharegpt", "alpaca", "prompt-completion", "classification", "text"):
        if set(REQUIRED[fmt]) <= keys:
            return fmt
    raise ConfigError(
        f"Cannot tell the format of a row with keys {sorted(keys)}; expected one of: messages, "
        "conversations (ShareGPT), instruction/input/output (Alpaca), prompt/completion, text/label "
        "(classification) or text. Set data.format, rename the columns, or map them with data.columns "
        "(e.g. body=text, category=label)."
    )


def detect_dataset_format(rows: list[dict[str, Any]]) -> str:
    """The format most rows have (a few broken rows must not decide it); ConfigError when no row has a known one."""
    counts: dict[str, int] = {}
    for row in rows:
        try:
            fmt = detect_format(row)
        except ConfigError:
            continue
        counts[fmt] = counts.get(fmt, 0) + 1
    if not counts:
        detect_format(rows[0] if rows else {})
    return max(counts, key=lambda f: (counts[f], -FORMATS.index(f)))


def default_instruction(labels: tuple[str, ...]) -> str:
    return f"Classify the customer email into one of: {', '.join(labels)}. Answer with the label only."


def classification_prompt(text: str, instruction: str) -> str:
    return f"{instruction}\n\n{text}"


def _field(row: dict[str, Any], name: str, kinds: tuple[type, ...] = (str,), *, optional: bool = False) -> Any:
    if name not in row or row[name] is None:
        if optional:
            return None
        raise RowError(
            f"is missing the field {name!r} (fields present: {', '.join(sorted(row)) or 'none'}).",
            f"Add {name!r}, or map a column to it with data.columns.",
            "missing-field",
        )
    value = row[name]
    if list in kinds and isinstance(value, str) and value.lstrip().startswith("["):
        try:  # CSV cells hold nested lists as JSON text
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RowError(
                f"field {name!r} holds invalid JSON ({exc.msg}).", "Store the list as valid JSON.", "invalid-json"
            ) from None
    if str in kinds and isinstance(value, (int, float)) and not isinstance(value, bool) and len(kinds) == 1:
        value = str(value)  # numeric labels from CSV/Parquet are fine as text
    if not isinstance(value, kinds):
        want = " or ".join({str: "text", list: "a list of messages"}.get(k, k.__name__) for k in kinds)
        raise RowError(f"field {name!r} is {type(value).__name__}, not {want}.", f"Make {name!r} {want}.", "wrong-type")
    return value


def _message_list(items: list, role_key: str, content_key: str, field: str) -> list[dict[str, Any]]:
    out = []
    for i, m in enumerate(items):
        if not isinstance(m, dict) or role_key not in m or content_key not in m:
            raise RowError(
                f"{field}[{i}] is not an object with {role_key!r} and {content_key!r}.",
                f'Write each message as {{"{role_key}": ..., "{content_key}": ...}}.',
                "bad-message",
            )
        role = m[role_key]
        if role_key == "from":
            role = _SHAREGPT_ROLES.get(str(role).lower(), role)
        out.append({"role": role, "content": m[content_key]})
    return out


def to_messages(
    row: dict[str, Any], fmt: str, *, instruction: str | None = None, system_prompt: str | None = None
) -> list[dict[str, Any]]:
    """Convert one row of format `fmt` to a list of {role, content} messages; RowError names a missing field."""
    if fmt == "messages":
        messages = _message_list(_field(row, "messages", (list,)), "role", "content", "messages")
    elif fmt == "sharegpt":
        messages = _message_list(_field(row, "conversations", (list,)), "from", "value", "conversations")
    elif fmt == "alpaca":
        user, extra = _field(row, "instruction"), _field(row, "input", optional=True)
        system = _field(row, "system", optional=True)
        messages = [{"role": "system", "content": system}] if system else []
        messages += [
            {"role": "user", "content": f"{user}\n\n{extra}" if extra else user},
            {"role": "assistant", "content": _field(row, "output")},
        ]
    elif fmt == "prompt-completion":
        prompt, completion = _field(row, "prompt", (str, list)), _field(row, "completion", (str, list))
        prompt = (
            _message_list(prompt, "role", "content", "prompt")
            if isinstance(prompt, list)
            else [{"role": "user", "content": prompt}]
        )
        completion = (
            _message_list(completion, "role", "content", "completion")
            if isinstance(completion, list)
            else [{"role": "assistant", "content": completion}]
        )
        messages = prompt + completion
    elif fmt == "classification":
        if instruction is None:
            raise ConfigError("classification rows need an instruction; pass data.instruction.")
        text, label = _field(row, "text"), _field(row, "label")
        for name, value in (("text", text), ("label", label)):
            if not value.strip():
                raise RowError(f"field {name!r} is empty.", f"Fill in the {name} or drop the row.", "empty-content")
        messages = [
            {"role": "user", "content": classification_prompt(text, instruction)},
            {"role": "assistant", "content": label},
        ]
    elif fmt == "text":
        # Plain text has no prompt: the whole text is the answer to an empty turn.
        messages = [{"role": "user", "content": ""}, {"role": "assistant", "content": _field(row, "text")}]
    else:
        raise ConfigError(f"Unknown data format {fmt!r}; use one of {', '.join(FORMATS)}.")
    if system_prompt and (not messages or messages[0]["role"] != "system"):
        messages = [{"role": "system", "content": system_prompt}, *messages]
    return messages


def messages_to_alpaca(messages: list[dict[str, str]]) -> dict[str, str]:
    """Single-turn conversation → Alpaca row; `to_messages(…, "alpaca")` gives the same messages back."""
    system = [m["content"] for m in messages if m["role"] == "system"]
    turns = [m for m in messages if m["role"] != "system"]
    single_turn = len(turns) == 2 and turns[0]["role"] == "user" and turns[1]["role"] == "assistant"
    if len(system) > 1 or (system and messages[0]["role"] != "system") or not single_turn:
        raise RowError(
            f"is a conversation of {len(messages)} messages; only single-turn ones (optional system, one "
            "user, one assistant message) convert to Alpaca.",
            "Convert to messages instead.",
            "not-single-turn",
        )
    instruction, _, rest = turns[0]["content"].partition("\n\n")
    if not instruction or not rest:
        # Splitting here would not survive the way back; keep the prompt whole.
        instruction, rest = turns[0]["content"], ""
    row = {"instruction": instruction, "input": rest, "output": turns[1]["content"]}
    if system:
        row = {"system": system[0], **row}
    return row
