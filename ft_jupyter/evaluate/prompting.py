"""The prompted baseline: the base model with a system prompt and k worked examples, the cheap fix to beat.

Few-shot examples come from the training split only, never from the test split, and an example whose prompt also
occurs in the test split (a duplicate across splits) is skipped, so the baseline never sees a test answer.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from ft_jupyter.data.prepare import Example


def prompt_key(example: Example) -> str:
    """The non-system prompt text of a row: what "the same question" means across splits."""
    return "\n".join(m["content"].strip() for m in example.prompt if m["role"] != "system")


def few_shot_examples(
    train: list[Example], test: list[Example], k: int, *, seed: int = 0, labels: tuple[str, ...] | None = None
) -> list[Example]:
    """k examples from `train` whose prompts do not occur in `test`; for labelled data, one per label in turn so the
    prompt shows the whole label set."""
    if k <= 0:
        return []
    unseen = {prompt_key(e) for e in test}
    pool = [e for e in train if prompt_key(e) not in unseen and len(e.messages) >= 2]
    rng = random.Random(seed)
    rng.shuffle(pool)
    if not labels:
        return pool[:k]
    by_label: dict[str, list[Example]] = {label: [e for e in pool if e.label == label] for label in labels}
    chosen: list[Example] = []
    while len(chosen) < k and any(by_label.values()):
        for label in labels:
            if by_label[label] and len(chosen) < k:
                chosen.append(by_label[label].pop())
    return chosen


def default_system_prompt(labels: tuple[str, ...] | None) -> str:
    if labels:
        return (
            f"You label customer messages. Reply with exactly one of these labels and nothing else: "
            f"{', '.join(labels)}."
        )
    return "You are a precise assistant. Answer in the same format and length as the examples."


def prompted_messages(example: Example, shots: list[Example], system_prompt: str) -> list[dict[str, str]]:
    """System prompt, then each shot as a user turn and its assistant answer, then the example's own prompt."""
    own = example.prompt
    if own and own[0]["role"] == "system":  # the data's own system message stays, after ours
        system_prompt = f"{system_prompt}\n\n{own[0]['content']}"
        own = own[1:]
    messages: list[dict[str, Any]] = [{"role": "system", "content": system_prompt}]
    for shot in shots:
        messages += [dict(m) for m in shot.messages if m["role"] != "system"]
    return messages + [dict(m) for m in own]


def with_prompt(examples: list[Example], shots: list[Example], system_prompt: str) -> list[Example]:
    """The examples as the prompted baseline sees them: system prompt and shots before each one's own prompt, the
    reference answer unchanged (so they score exactly like the originals)."""
    return [replace(e, messages=(*prompted_messages(e, shots, system_prompt), e.messages[-1])) for e in examples]
