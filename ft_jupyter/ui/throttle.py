"""How often a live view may redraw: every one of the first few updates, then at most one per interval.

The first steps are always drawn so a learner sees at once that training started (transformers'
NotebookProgressCallback and fastprogress do the same). After that redraws are at least `min_interval_s` apart
(≈5 a second), and further apart when drawing is slow: the gap grows so that drawing takes at most `budget` of the
wall time (0.5%), whatever the machine or the length of the curves. The budget is half the 2% a dashboard may cost
in all, leaving the rest to what a redraw sets off outside this thread (sending, the browser drawing).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Throttle:
    def __init__(
        self,
        min_interval_s: float = 0.2,
        always_first: int = 5,
        budget: float = 0.005,
        clock: Callable[[], float] = time.monotonic,
    ):
        if min_interval_s < 0 or always_first < 0 or not 0 < budget <= 1:
            raise ValueError("min_interval_s and always_first must be ≥ 0 and budget in (0, 1].")
        self.min_interval_s = min_interval_s
        self.always_first = always_first
        self.budget = budget
        self.clock = clock
        self.updates = 0  # calls to ready()
        self.draws = 0  # redraws allowed by ready() or recorded by force()
        self.pending = False  # an update was skipped and nothing has been drawn since
        self.gap_s = min_interval_s
        self._last: float | None = None

    def ready(self) -> bool:
        """True when this update should be drawn now (and counts it as drawn)."""
        self.updates += 1
        now = self.clock()
        if self.updates <= self.always_first or self._last is None or now - self._last >= self.gap_s:
            self._mark(now)
            return True
        self.pending = True
        return False

    def force(self) -> None:
        """Record a redraw made regardless of the interval (run end, a warning, a user action)."""
        self._mark(self.clock())

    def cost(self, seconds: float) -> None:
        """Report how long the last redraw took; slow redraws widen the gap to keep within the budget."""
        self.gap_s = max(self.min_interval_s, seconds / self.budget)

    def _mark(self, now: float) -> None:
        self._last = now
        self.draws += 1
        self.pending = False
