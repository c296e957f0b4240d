"""The learning-rate curve a config will train with, computed by the trainer's own scheduler code.

The preview builds the same `SFTConfig` training builds (`train.translate.sft_config`) and hands its scheduler
settings to transformers' `get_scheduler` on a one-parameter optimizer, so warmup rounding, cosine shape and the WSD
phases match the run exactly rather than a re-implementation of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ft_jupyter.config import RunConfig


@dataclass(frozen=True)
class Schedule:
    steps: np.ndarray  # optimizer steps 1..total (sampled when total is large)
    learning_rate: np.ndarray  # the rate used by each of those steps
    total_steps: int
    warmup_steps: int
    scheduler_type: str

    def describe(self) -> str:
        return (
            f"{self.scheduler_type}: {self.warmup_steps} warmup steps of {self.total_steps}; peak "
            f"{self.learning_rate.max():.2e}"
        )


def lr_schedule(config: RunConfig, total_steps: int, max_points: int = 400) -> Schedule:
    """Learning rate of every optimizer step 1..`total_steps` (at most `max_points` of them, evenly spaced)."""
    import torch
    from transformers import get_scheduler

    from ft_jupyter.train.translate import choose_precision, sft_config

    # The folder is never created: building the arguments only records it.
    args = sft_config(
        config, choose_precision(config), Path(config.runs_dir) / "lr-preview", total_steps, has_eval=False
    )
    warmup = args.get_warmup_steps(total_steps)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=config.training.learning_rate)
    scheduler = get_scheduler(
        args.lr_scheduler_type,
        optimizer,
        num_warmup_steps=warmup,
        num_training_steps=total_steps,
        scheduler_specific_kwargs=args.lr_scheduler_kwargs,
    )
    steps = np.unique(np.linspace(1, total_steps, min(total_steps, max_points)).round().astype(int))
    # The trainer logs, for step k, the rate in force before its (k-1)-th scheduler.step(): lambda(k - 1).
    factor = scheduler.lr_lambdas[0]
    rates = np.array([config.training.learning_rate * factor(int(k) - 1) for k in steps])
    return Schedule(steps, rates, total_steps, warmup, str(args.lr_scheduler_type.value))
