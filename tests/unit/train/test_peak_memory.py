import sys

import numpy as np
import pytest

from ft_jupyter.train.callbacks import memory_mb, reset_peak_memory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")


def _touch(mib: int) -> np.ndarray:
    block = np.ones(mib * 2**20, dtype=np.uint8)  # ones, not zeros: every page is written, so it is resident
    return block


def test_the_peak_restarts_at_a_reset_and_then_counts_what_this_work_allocates():
    if not reset_peak_memory("cpu"):
        pytest.skip("this kernel does not let a process reset its resident high-water mark")
    block = _touch(256)
    before_free = memory_mb("cpu")
    del block
    assert reset_peak_memory("cpu")
    start = memory_mb("cpu", peak=False)
    # The 256 MiB allocated before the reset no longer counts towards the peak ...
    assert memory_mb("cpu") < before_free - 200
    block = _touch(128)
    del block
    # ... while 128 MiB allocated and freed after it does, although it is gone by the time the peak is read.
    peak = memory_mb("cpu")
    assert peak - start > 120
    assert memory_mb("cpu", peak=False) < peak - 100
