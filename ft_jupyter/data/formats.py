"""Row formats people actually have, detected and converted to the conversational `messages` form TRL trains on."""

from __future__ import annotations

from typing import Any

from ft_jupyter.config import ConfigError

FORMATS = ("messages", "alpaca", "sharegpt", "prompt-completion", "classification", "text")
_SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                   "bot": "assistant", "model": "assistant"}


def detect_format(row: dict[str, Any]) -> str:
    """Name the format of one row from its keys; raise ConfigError when it matches none."""
    keys = set(row)
    if "messages" in keys:
        return "messages"
    if "conversations" in keys:
        return "sharegpt"
    if {"instruction", "output"} <= keys:
        return "alpaca"
    if {"prompt", "completion"} <= keys:
        return "prompt-completion"
    if {"text", "label"} <= keys:
        return "classification"
    if "text" in keys:
        return "text"
    raise ConfigError(f"Cannot tell the format of a row with keys {sorted(keys)}; expected one of: messages, "
                      "conversations (ShareGPT), instruction/input/output (Alpaca), prompt/completion, text/label "
                      "(classification) or text. Set data.format or rename the columns.")


def default_instruction(labels: tuple[str, ...]) -> str:
    return f"Classify the customer email into one of: {', '.join(labels)}. Answer with the label only."


def classification_prompt(text: str, instruction: str) -> str:
    return f"{instruction}\n\n{text.strip()}"


def to_messages(row: dict[str, Any], fmt: str, *, instruction: str | None = None,
                system_prompt: str | None = None) -> list[dict[str, str]]:
    """Convert one row of format `fmt` to a list of {role, content} messages."""
    if fmt == "messages":
        messages = [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
    elif fmt == "sharegpt":
        messages = [{"role": _SHAREGPT_ROLES.get(str(m.get("from", "")).lower(), str(m.get("from"))),
                     "content": m["value"]} for m in row["conversations"]]
    elif fmt == "alpaca":
        prompt = row["instruction"] if not row.get("input") else f"{row['instruction']}\n\n{row['input']}"
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": row["output"]}]
    elif fmt == "prompt-completion":
        messages = [{"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": row["completion"]}]
    elif fmt == "classification":
        if instruction is None:
            raise ConfigError("classification rows need an instruction; pass data.instruction.")
        messages = [{"role": "user", "content": classification_prompt(row["text"], instruction)},
                    {"role": "assistant", "content": str(row["label"])}]
    elif fmt == "text":
        # Plain text has no prompt: the whole text is the answer to an empty turn.
        messages = [{"role": "user", "content": ""}, {"role": "assistant", "content": row["text"]}]
    else:
        raise ConfigError(f"Unknown data format {fmt!r}; use one of {', '.join(FORMATS)}.")
    if system_prompt and messages[0]["role"] != "system":
        messages = [{"role": "system", "content": system_prompt}, *messages]
    return messages


def messages_to_alpaca(messages: list[dict[str, str]]) -> dict[str, str]:
    """Single-turn conversation → Alpaca row (the inverse of the alpaca branch of `to_messages`)."""
    turns = [m for m in messages if m["role"] != "system"]
    if len(turns) != 2 or turns[0]["role"] != "user" or turns[1]["role"] != "assistant":
        raise ConfigError("Only single-turn conversations (one user, one assistant message) convert to Alpaca.")
    instruction, _, rest = turns[0]["content"].partition("\n\n")
    return {"instruction": instruction, "input": rest, "output": turns[1]["content"]}
