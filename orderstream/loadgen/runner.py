"""The open-loop pacing loop: write each planned change when it is due, in batches.

Open loop means the schedule does not wait for the database: when a write is slow, the
changes that fell due meanwhile go out together in the next transaction (up to
``max_batch``), so batching grows exactly when the target rate needs it. Changes due within
``batch_window`` of each other are written together even when the loop keeps up, which
keeps the number of transactions sane at high rates.

No SQL here: the writer is anything with ``write(batch)``; clock and stop event are injected.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from orderstream.loadgen.planner import ChangeKind, PlannedChange


class BatchWriter(Protocol):
    def write(self, batch: Sequence[PlannedChange]) -> None: ...


@dataclass
class RunStats:
    target_rate: float
    written: int = 0  # order changes committed
    orders: int = 0  # of which inserts
    illegal: int = 0  # of which illegal transitions
    batches: int = 0
    elapsed: float = 0.0  # seconds since the start
    lag: float = 0.0  # how far the last batch's first change was behind its due time
    max_lag: float = 0.0
    unwritten_due: int = 0  # changes that were due but not written when the run ended
    stopped: bool = False  # ended by the stop event (Ctrl-C, SIGTERM)
    errors: int = 0  # connection losses survived (filled in by the caller)

    @property
    def achieved_rate(self) -> float:
        return self.written / self.elapsed if self.elapsed > 0 else 0.0


def run_schedule(
    changes: Iterator[PlannedChange],
    writer: BatchWriter,
    *,
    target_rate: float,
    duration: float | None,
    stop: threading.Event,
    clock: Callable[[], float] = time.monotonic,
    max_batch: int = 500,
    batch_window: float = 0.01,
    grace: float = 1.0,
    on_progress: Callable[[RunStats], None] = lambda _s: None,
    progress_interval: float = 0.25,
) -> RunStats:
    """Write ``changes`` on their schedule until they run out, ``stop`` is set, or (when
    behind) ``duration + grace`` seconds have passed. Exceptions from the writer propagate;
    the stats passed to ``on_progress`` are then current up to the last committed batch."""
    stats = RunStats(target_rate=target_rate)
    start = clock()
    last_progress = start
    pending = next(changes, None)
    while pending is not None and not stop.is_set():
        now = clock() - start
        stats.elapsed = now
        if now - (last_progress - start) >= progress_interval:
            last_progress = start + now
            on_progress(stats)
        if duration is not None and now > duration + grace:
            break  # too far behind to finish: stop on time and report what was missed
        if pending.at > now:
            stop.wait(min(pending.at - now, progress_interval))
            continue
        batch: list[PlannedChange] = []
        horizon = now + batch_window
        while pending is not None and pending.at <= horizon and len(batch) < max_batch:
            batch.append(pending)
            pending = next(changes, None)
        writer.write(batch)
        stats.batches += 1
        stats.written += len(batch)
        stats.orders += sum(1 for c in batch if c.kind is ChangeKind.INSERT)
        stats.illegal += sum(1 for c in batch if c.illegal)
        stats.lag = max(0.0, now - batch[0].at)
        stats.max_lag = max(stats.max_lag, stats.lag)
    if pending is None and duration is not None and not stop.is_set():
        # all written: the run still lasts its duration, so the achieved rate is honest
        remaining = duration - (clock() - start)
        if remaining > 0:
            stop.wait(remaining)
    end = clock() - start
    stats.elapsed = end
    stats.stopped = stop.is_set()
    while pending is not None and pending.at <= end:
        stats.unwritten_due += 1
        pending = next(changes, None)
    on_progress(stats)
    return stats
