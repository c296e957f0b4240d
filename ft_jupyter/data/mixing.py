"""Mix general text into the training rows: the cheapest guard against catastrophic forgetting.

A model fine-tuned only on support emails drifts away from everything else it could do; replaying a small share of
general text keeps those weights exercised. Mixed rows go into training only: validation and test stay pure task
data, so eval loss and accuracy still measure the task.
"""

from __future__ import annotations

import random

from ft_jupyter.config import ConfigError, DataConfig
from ft_jupyter.data.formats import to_messages
from ft_jupyter.data.prepare import Example, read_rows


def general_examples_needed(task_rows: int, fraction: float) -> int:
    """How many general rows make them `fraction` of the mixed training set."""
    return round(task_rows * fraction / (1.0 - fraction)) if fraction > 0 else 0


def general_text_rows(config: DataConfig, off: str) -> list[str]:
    """The non-empty `text` fields of data.mix_dataset; `off` names the setting that avoids needing them."""
    rows = read_rows(config.mix_dataset)
    texts = [row["text"] for row in rows if isinstance(row.get("text"), str) and row["text"].strip()]
    if not texts:
        raise ConfigError(
            f"data.mix_dataset = {config.mix_dataset!r} has no rows with a non-empty 'text' field; point it "
            f"at general text, or set {off}."
        )
    return texts


def fisher_texts(config: DataConfig, count: int, seed: int) -> list[str]:
    """The general-text rows that estimate the Fisher information for EWC: `count` of them, picked with the seed
    (all of them when there are fewer). The forgetting check leaves them out, as it does mixed-in rows."""
    texts = general_text_rows(config, "training.ewc_lambda: 0")
    if count >= len(texts):
        return texts
    return random.Random(seed + 1).sample(texts, count)


def mix_general_text(train: list[Example], config: DataConfig, seed: int) -> tuple[list[Example], int]:
    """The training examples with general-text rows mixed in (shuffled, seeded); also returns how many were added."""
    wanted = general_examples_needed(len(train), config.mix_fraction)
    if wanted == 0:
        return train, 0
    texts = general_text_rows(config, "data.mix_fraction: 0")
    rng = random.Random(seed)
    # Reuse rows when the general set is smaller than asked for: repetition is better than silently mixing less.
    picked = rng.sample(texts, wanted) if wanted <= len(texts) else [rng.choice(texts) for _ in range(wanted)]
    general = [Example(tuple(to_messages({"text": t}, "text"))) for t in picked]
    mixed = train + general
    rng.shuffle(mixed)
    return mixed, wanted
