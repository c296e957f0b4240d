"""What each process of `ft-jupyter launch` runs: `python -m ft_jupyter.train.worker RUN_FOLDER`.

The launcher created the run folder and wrote its config; every process trains from it (rank 0 alone writes events
and status). A process that fails leaves its error in launch/rank-<N>.error, where the launcher finds it and marks
the run failed with that rank's own message rather than the broken-pipe errors the other ranks see afterwards.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

from ft_jupyter.config import ConfigError
from ft_jupyter.train.translate import STRATEGY_ENV

EXPECTED_ENV = "FT_JUPYTER_EXPECTED_PROCESSES"


def check_world_size() -> int:
    """The number of processes this one sees, which must be the number the launcher asked for."""
    expected = int(os.environ.get(EXPECTED_ENV, "1"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world != expected:
        raise ConfigError(
            f"launched for {expected} processes but this process sees WORLD_SIZE={world}: the launcher "
            "started the wrong number (accelerate's MULTI_CPU type and `--cpu --num_processes` start "
            "one). Launch with `ft-jupyter launch`, whose configs avoid this."
        )
    return world


def _finish_distributed() -> None:
    import torch.distributed as dist

    # Without a last barrier one process can tear the group down while another still writes: it died at exit.
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def main(argv: list[str]) -> int:
    from ft_jupyter.train.loop import is_main_process
    from ft_jupyter.train.run import run_training
    from ft_jupyter.train.store import RunDir

    run = RunDir(Path(argv[0]).resolve())
    rank = int(os.environ.get("RANK", "0"))
    try:
        world = check_world_size()
        observers = []
        if is_main_process():
            from ft_jupyter.train.console import ConsoleProgress

            observers.append(ConsoleProgress())
            print(f"{world} processes, strategy {os.environ.get(STRATEGY_ENV, 'ddp')}", flush=True)
        result = run_training(run.config(), observers, run=run)
        _finish_distributed()
        print(f"rank {rank}: {result.state}", flush=True)
        return 0
    except BaseException as exc:
        folder = run.path / "launch"
        folder.mkdir(exist_ok=True)
        (folder / f"rank-{rank}.error").write_text(
            f"{type(exc).__name__}: {exc}\n\n" + "".join(traceback.format_exception(exc))[-4000:], encoding="utf-8"
        )
        raise


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
