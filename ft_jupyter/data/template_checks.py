"""Checks that a training chat template is safe before any step runs.

1. Some tokens carry loss at all (otherwise every label is -100 and the run learns nothing, silently).
2. Every assistant turn ends with the end-of-turn token inside the loss, so the model learns to stop.
3. Train-time and inference-time rendering agree: the prompt rendered with the generation prompt (what the model
   sees when answering) is exactly the start of what it was trained on, and a patched template renders the same
   text as the original.
"""

from __future__ import annotations

from ft_jupyter.config import ConfigError
from ft_jupyter.data.probes import PROBES, render


def assistant_mask(tokenizer, template: str, messages) -> tuple[list[int], list[int]]:
    """(input_ids, mask) as TRL computes them for assistant-only loss: 1 where a token carries loss."""
    out = tokenizer.apply_chat_template(
        list(messages), chat_template=template, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    return list(out["input_ids"]), list(out["assistant_masks"])


def spans(mask: list[int]) -> list[tuple[int, int]]:
    """[start, end) runs of 1s: one per assistant turn."""
    out, start = [], None
    for i, bit in enumerate(mask + [0]):
        if bit and start is None:
            start = i
        elif not bit and start is not None:
            out.append((start, i))
            start = None
    return out


def _last_visible(tokenizer, ids: list[int], start: int, end: int) -> int | None:
    for i in range(end - 1, start - 1, -1):
        if tokenizer.decode([ids[i]]).strip():
            return ids[i]
    return None


def check_end_of_turn(tokenizer, template: str) -> list[str]:
    """Warnings (ConfigError when fatal) about how assistant turns end inside the loss."""
    ids, mask = assistant_mask(tokenizer, template, PROBES[1])
    turns = spans(mask)
    if not turns:
        raise ConfigError(
            "The training chat template marks no assistant tokens, so every label would be -100 and "
            "the run would learn nothing. Its {% generation %} markers must surround assistant "
            "content; or set training.assistant_only_loss: false."
        )
    special = set(tokenizer.all_special_ids) | set(tokenizer.get_added_vocab().values())
    warnings = []
    for start, end in turns:
        last = _last_visible(tokenizer, ids, start, end)
        if last == tokenizer.eos_token_id:
            continue
        text = tokenizer.decode([last]) if last is not None else ""
        if last in special:
            warnings.append(
                f"Assistant turns end with {text!r}, not the tokenizer's EOS {tokenizer.eos_token!r}: "
                f"generation must stop on {text!r} (put its id in generation_config.eos_token_id)."
            )
            break
        raise ConfigError(
            f"Assistant turns end with the ordinary text {text!r} inside the loss, not an end-of-turn "
            "token, so the model would never learn to stop. Put the end-of-turn token (e.g. EOS) "
            "inside {% generation %}...{% endgeneration %}, or set training.assistant_only_loss: false."
        )
    return warnings


def check_agreement(tokenizer, original: str, training: str, conversations) -> list[str]:
    """Where training-time and inference-time rendering differ, one sentence each (first few only)."""
    problems = []
    for messages in conversations:
        messages = list(messages)
        try:
            full = render(tokenizer, training, messages)
        except Exception as exc:  # jinja's raise_exception: the template refuses this conversation
            raise ConfigError(
                f"The chat template cannot render a training conversation: {exc}. (Some templates, "
                "e.g. Mistral's, have no system role: then leave data.system_prompt empty.)"
            ) from None
        if training != original:
            shipped = render(tokenizer, original, messages)
            if shipped != full:
                problems.append(
                    f"the training template renders a conversation differently from the model's own "
                    f"template (first difference at character {_first_diff(shipped, full)})."
                )
        last_answer = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        prompt = render(tokenizer, original, messages[:last_answer], add_generation_prompt=True)
        if not full.startswith(prompt):
            problems.append(
                f"at inference the prompt renders as {prompt[-40:]!r} at its end, but training saw "
                f"{full[len(prompt) - 40 : len(prompt)]!r} there: the model would answer from a context "
                "it was not trained on."
            )
        if len(problems) >= 3:
            break
    return problems


def _first_diff(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def check_training_template(tokenizer, original: str, training: str, conversations=None) -> list[str]:
    """All checks; returns warnings for the run log and raises ConfigError on what would ruin the run."""
    warnings = check_end_of_turn(tokenizer, training)
    samples = [p for p in PROBES if p[-1]["role"] == "assistant" and p[0]["role"] != "system"]
    try:
        render(tokenizer, original, PROBES[2])
        samples += [p for p in PROBES if p[0]["role"] == "system"]
    except Exception:  # the template refuses system turns; probing them would only repeat its error
        pass
    disagreements = check_agreement(tokenizer, original, training, samples + list(conversations or []))
    warnings += [f"Chat template check: {d}" for d in disagreements]
    return warnings
