"""Aligned watermarks through the whole flow: old history read from one CDC partition must not
keep a rare key's live windows open (the 2-process live run once never emitted PAID|REFUNDED).
"""

from __future__ import annotations

import itertools
import threading
from datetime import datetime, timedelta

from dataflows.clock import Clock
from tests.dataflow.expected import s
from tests.dataflow.flow_harness import ChangeLog, row, run_flow

#: System time of the run: an hour after the history's event times, like a backlog drain.
LIVE = s(3600)


def stepping_clock(start: datetime, step: timedelta) -> Clock:
    """System time that moves on by ``step`` at every reading (no wake-ups: windows close
    on items and at end of input, so the test is deterministic about what is late)."""
    ticks = itertools.count()
    lock = threading.Lock()

    def now() -> datetime:
        with lock:
            return start + next(ticks) * step

    return Clock(now=now, wakes_up=False)


def refunded(log: ChangeLog, order_id: int, at_s: float) -> None:
    pending = row(order_id, "PENDING", "10.00", 1, s(at_s))
    paid = row(order_id, "PAID", "10.00", 2, s(at_s + 1))
    back = row(order_id, "REFUNDED", "10.00", 3, s(at_s + 2))
    log.insert(pending)
    log.update(pending, paid)
    log.update(paid, back)


def test_a_partition_silent_since_old_history_does_not_hold_live_windows_open(
    workers: int,
) -> None:
    history, live = ChangeLog(partition=1), ChangeLog(partition=0)
    refunded(history, 1, 5)  # PAID|REFUNDED an hour ago, the last one partition 1 carries
    refunded(live, 2, 3600)  # the live window [1:00, 1:01) of PAID|REFUNDED
    for order_id in range(10, 110):  # other live changes while system time moves on
        live.insert(row(order_id, "PENDING", "1.00", 1, s(3610 + order_id)))
    refunded(live, 3, 3620)  # arrives when that window should have closed: a correction

    out = run_flow(
        history.records + live.records, workers, clock=stepping_clock(LIVE, timedelta(seconds=1))
    )

    live_window = [
        (record["count"], record["revision"])
        for key, record in out.transitions
        if key == "2026-11-25T01:00:00+00:00|PAID|REFUNDED"
    ]
    # Closed while the input flowed (partition 1 idle for 30 s, partition 0 past 1:01:10),
    # then corrected by order 3, not held open until the end of input and emitted once.
    assert live_window == [(1, 1), (2, 2)]
