"""The one progress mechanism for long work: evaluation, conversion and data checks draw bars with it, and training's
console lines share its duration format and its on/off switch.

    with progress_bar(len(rows), "Generating: fine-tuned", unit="rows") as bar:
        ...
        bar.update(len(batch))

On a console the bar is tqdm's text bar on stderr, never stdout, so `--json` output stays parseable; in a notebook
whose front-end shows widgets (the `frontend.display_mode` switch) it is tqdm's widget bar. `progress=False`, or
FT_JUPYTER_PROGRESS=0 for a whole process, hides every bar. tqdm loads on the first bar, not on import.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Protocol, TypeVar

ENV_VAR = "FT_JUPYTER_PROGRESS"
_OFF = ("0", "false", "no", "off")
# At most ~5 redraws a second, like the training dashboard: a bar must never slow down the work it reports.
MIN_INTERVAL_S = 0.2
T = TypeVar("T")
BAR_FORMAT = (
    "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit} [elapsed {elapsed_text}, ETA {eta_text}, {rate_text}]"
)


def fmt_duration(seconds: float | None) -> str:
    """Seconds as m:ss or h:mm:ss; "?" while unknown (no rate measured yet)."""
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def progress_enabled(progress: bool | None = None) -> bool:
    """The argument when one is given, else $FT_JUPYTER_PROGRESS: on unless it is 0, false, no or off."""
    if progress is not None:
        return bool(progress)
    return os.environ.get(ENV_VAR, "").strip().lower() not in _OFF


class Bar(Protocol):
    def update(self, n: int = 1) -> Any: ...


class _Hidden:
    """Stands in for a bar that is switched off, so callers never branch on it."""

    def update(self, n: int = 1) -> None:
        return None


@contextmanager
def progress_bar(
    total: int, desc: str, *, unit: str = "items", progress: bool | None = None, min_total: int = 1
) -> Iterator[Bar]:
    """A bar over `total` units of work; call `bar.update(n)` as units finish. Nothing shows when progress is off
    or when `total` is under `min_total` (small work stays quiet)."""
    if not progress_enabled(progress) or total < max(1, min_total) or not _main_thread():
        yield _Hidden()
        return
    # tqdm's own disable=None would hide the bar whenever stderr is not a terminal (CI logs, captured output).
    bar = _bar_class(_widgets())(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        bar_format=BAR_FORMAT,
        mininterval=MIN_INTERVAL_S,
        disable=False,
    )
    try:
        yield bar
    finally:
        bar.close()


def tracked(items: Iterable[T], bar: Bar) -> Iterator[T]:
    """Yield `items`, advancing `bar` by one as each is consumed (for loops over rows)."""
    for item in items:
        yield item
        bar.update()


def _main_thread() -> bool:
    # Work on a background thread (notebook training) reports through its own events; a bar drawn from there would
    # land in whichever cell happens to run at the time.
    return threading.current_thread() is threading.main_thread()


def _widgets() -> bool:
    # The one notebook-or-console switch; that module imports no widget library.
    from ft_jupyter.frontend import display_mode

    return display_mode() == "widgets"


@lru_cache(maxsize=2)
def _bar_class(widgets: bool) -> type:
    if widgets:
        from tqdm.notebook import tqdm as base
    else:
        from tqdm.std import tqdm as base

    class _Bar(base):
        # Extra keys of format_dict reach BAR_FORMAT: elapsed and ETA read exactly like training's "ETA 1:05".
        @property
        def format_dict(self) -> dict[str, Any]:
            d = super().format_dict
            total, n, elapsed = d.get("total") or 0, d.get("n") or 0, d.get("elapsed") or 0
            # tqdm drops its smoothed rate for the final line; the overall rate stands in, as in tqdm's own text.
            rate = d.get("rate") or ((n - (d.get("initial") or 0)) / elapsed if elapsed and n else None)
            remaining = 0 if n >= total else (total - n) / rate if rate else None
            d.update(
                elapsed_text=fmt_duration(elapsed),
                eta_text=fmt_duration(remaining),
                rate_text=_rate_text(rate, d.get("unit") or "items"),
            )
            return d

    return _Bar


def _rate_text(rate: float | None, unit: str) -> str:
    if not rate:
        return f"? {unit}/s"
    if rate < 1:
        return f"{1 / rate:.1f} s each"
    return f"{rate:,.0f} {unit}/s" if rate >= 100 else f"{rate:.2f} {unit}/s"
