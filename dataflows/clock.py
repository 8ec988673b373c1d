"""The dataflow's sense of "now" (system time), injectable so tests can freeze it.

Pure: no bytewax, no confluent_kafka.

Event time (the order's ``updated_at``) drives windows; system time only (1) lets a window's
watermark advance while a key receives nothing, (2) measures per-order idleness for state
eviction and (3) stamps ``processed_at``. A frozen clock makes all three deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Clock:
    """``now`` returns an aware UTC datetime.

    ``wakes_up`` says whether stateful steps ask the runtime to wake them at a future time of
    this clock (to close windows or evict idle orders while no input arrives). Bytewax compares
    wake-up times with the real system clock, so a frozen clock must not schedule any: its
    steps then act only on new items and at end of input.
    """

    now: Callable[[], datetime] = utc_now
    wakes_up: bool = True


SYSTEM_CLOCK = Clock()


def frozen_clock(at: datetime) -> Clock:
    """A clock that always says ``at`` and never schedules wake-ups (for tests)."""
    if at.tzinfo is None:
        raise ValueError("frozen_clock needs an aware datetime")
    return Clock(now=lambda: at, wakes_up=False)
