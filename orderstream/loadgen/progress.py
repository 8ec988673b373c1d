"""Progress reporting: one refreshing line on a terminal, a periodic log line elsewhere."""

from __future__ import annotations

import time
from typing import TextIO

from orderstream.loadgen.runner import RunStats


def progress_line(stats: RunStats) -> str:
    """E.g. ``12.0s  99.8/s (target 100/s)  1198 changes  301 orders  lag 0.00s  errors 0``."""
    return (
        f"{stats.elapsed:7.1f}s  {stats.achieved_rate:8.1f}/s (target {stats.target_rate:g}/s)"
        f"  {stats.written} changes  {stats.orders} orders  {stats.illegal} illegal"
        f"  lag {stats.lag:.2f}s  errors {stats.errors}"
    )


def summary_line(stats: RunStats, *, seed: int, id_ranges: list[tuple[int, int]]) -> str:
    """The one-line result every run prints (also when stopped or failed)."""
    ids = ", ".join(f"{a}..{b}" for a, b in id_ranges) or "none"
    ending = " (stopped)" if stats.stopped else ""
    missed = f"; {stats.unwritten_due} due changes not written" if stats.unwritten_due else ""
    return (
        f"loadgen: wrote {stats.written} order changes ({stats.orders} new orders,"
        f" {stats.illegal} illegal) in {stats.elapsed:.2f}s = {stats.achieved_rate:.1f} changes/s"
        f" (target {stats.target_rate:g}/s, {stats.batches} transactions,"
        f" max lag {stats.max_lag:.2f}s, connection errors {stats.errors}){missed}{ending};"
        f" seed {seed}; order ids {ids}"
    )


class Progress:
    """Renders :func:`progress_line` to ``stream``: refreshed in place on a terminal, one
    line every ``log_interval`` seconds otherwise (e.g. under a process supervisor)."""

    def __init__(self, stream: TextIO, *, log_interval: float = 30.0) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._log_interval = log_interval
        self._last_log = time.monotonic()
        self._dirty = False

    def update(self, stats: RunStats) -> None:
        if self._tty:
            self._stream.write("\r\x1b[2K" + progress_line(stats))
            self._stream.flush()
            self._dirty = True
        elif time.monotonic() - self._last_log >= self._log_interval:
            self._last_log = time.monotonic()
            self._stream.write("loadgen: " + progress_line(stats).strip() + "\n")
            self._stream.flush()

    def message(self, text: str) -> None:
        """A line of its own (a retry notice) without garbling the progress line."""
        self.finish()
        self._stream.write(f"loadgen: {text}\n")
        self._stream.flush()

    def finish(self) -> None:
        if self._dirty:
            self._stream.write("\n")
            self._stream.flush()
            self._dirty = False
