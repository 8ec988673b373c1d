"""Status transitions per ``(from, to)`` per window: count and time spent in ``from``.

Pure: no bytewax, no confluent_kafka. A transition is an update whose status changes;
inserts, amount edits, snapshot reads and deletes are not transitions. Durations are kept
exactly, in whole milliseconds, so percentiles of a corrected window are exact too.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from dataflows.dedupe import TrackedChange
from dataflows.utc import MICROSECOND
from dataflows.value import Value
from orderstream.contract import OrderStatus

_MICROSECONDS_PER_MS = 1000


class TransitionSample(Value, frozen=True):
    from_status: OrderStatus
    to_status: OrderStatus
    duration_ms: int | None  # time spent in from_status; None when unknown (untimed)

    @property
    def pair(self) -> str:
        return _PAIRS[self.from_status, self.to_status]


#: ``FROM|TO`` of every pair of statuses, formatted once.
_PAIRS = {(a, b): f"{a}|{b}" for a in OrderStatus for b in OrderStatus}


#: Durations are stored in immutable chunks of at most this many, each packed as little-endian
#: int64 bytes: adding one copies a chunk and the tuple of chunk references, not every
#: duration of the window (which is quadratic), and a kept duration costs 8 bytes, not a
#: Python int in a tuple (~36 bytes), since closed windows stay correctable for a day.
CHUNK = 256
_SAMPLE_BYTES = 8


def _pack(duration_ms: int) -> bytes:
    return duration_ms.to_bytes(_SAMPLE_BYTES, "little", signed=True)


def _pack_all(durations_ms: Sequence[int]) -> bytes:
    values = array("q", durations_ms)
    if sys.byteorder != "little":
        values.byteswap()
    return values.tobytes()


def _chunked(packed: bytes) -> tuple[bytes, ...]:
    size = CHUNK * _SAMPLE_BYTES
    return tuple(packed[i : i + size] for i in range(0, len(packed), size))


def _unpack(chunks: Sequence[bytes]) -> list[int]:
    values = array("q", b"".join(chunks))
    if sys.byteorder != "little":
        values.byteswap()
    return values.tolist()


@dataclass(frozen=True)
class TransitionStats:
    """Window accumulator: the durations are a multiset (order carries no meaning)."""

    count: int = 0
    untimed_count: int = 0
    chunks: tuple[bytes, ...] = ()

    @classmethod
    def of(cls, count: int, untimed_count: int, durations_ms: Sequence[int]) -> TransitionStats:
        return cls(count, untimed_count, _chunked(_pack_all(durations_ms)))

    @property
    def durations_ms(self) -> tuple[int, ...]:
        return tuple(_unpack(self.chunks))

    @property
    def timed_count(self) -> int:
        return sum(len(chunk) for chunk in self.chunks) // _SAMPLE_BYTES

    def with_duration(self, duration_ms: int) -> TransitionStats:
        chunks = self.chunks
        if chunks and len(chunks[-1]) < CHUNK * _SAMPLE_BYTES:
            chunks = (*chunks[:-1], chunks[-1] + _pack(duration_ms))
        else:
            chunks = (*chunks, _pack(duration_ms))
        return TransitionStats(self.count + 1, self.untimed_count, chunks)


@dataclass(frozen=True)
class TransitionSummary:
    count: int
    timed_count: int
    untimed_count: int
    p50_ms: int | None
    p95_ms: int | None
    max_ms: int | None


def to_milliseconds(duration: timedelta) -> int:
    """Whole milliseconds, half-up (durations are seconds with millisecond precision)."""
    return milliseconds(duration // MICROSECOND)


def milliseconds(microseconds: int) -> int:
    """:func:`to_milliseconds` of a duration in microseconds."""
    return (microseconds + _MICROSECONDS_PER_MS // 2) // _MICROSECONDS_PER_MS


def sample(tracked: TrackedChange) -> TransitionSample | None:
    """The sample of a status change (``tracked.is_status_change``), else None."""
    if not tracked.is_status_change:
        return None
    change = tracked.change
    before, after = change.before, change.after
    assert before is not None and after is not None
    elapsed = tracked.time_in_previous_us
    # positional: faster (once per transition)
    return TransitionSample(
        before.status, after.status, None if elapsed is None else milliseconds(elapsed)
    )


def initialize() -> TransitionStats:
    return TransitionStats()


def agg(stats: TransitionStats, item: TransitionSample) -> TransitionStats:
    if item.duration_ms is None:
        return TransitionStats(stats.count + 1, stats.untimed_count + 1, stats.chunks)
    return stats.with_duration(item.duration_ms)


def stats(samples: Sequence[TransitionSample]) -> TransitionStats:
    """The stats of many samples (a batch's for one window): what ``agg`` over them gives."""
    durations = [s.duration_ms for s in samples if s.duration_ms is not None]
    return TransitionStats.of(len(samples), len(samples) - len(durations), durations)


def merge(a: TransitionStats, b: TransitionStats) -> TransitionStats:
    """``b``'s durations are appended to ``a``'s: only ``a``'s last, partly filled chunk is
    copied, so adding a batch's stats to a large window costs the batch, not the window."""
    count, untimed = a.count + b.count, a.untimed_count + b.untimed_count
    if not b.chunks or not a.chunks:
        return TransitionStats(count, untimed, a.chunks or b.chunks)
    *full, last = a.chunks
    return TransitionStats(count, untimed, (*full, *_chunked(last + b"".join(b.chunks))))


def nearest_rank(sorted_values: Sequence[int], percentile: int) -> int:
    """The nearest-rank percentile: the smallest value with at least p% of values <= it."""
    if not sorted_values or not 0 < percentile <= 100:
        raise ValueError("need values and 0 < percentile <= 100")
    rank = -(-percentile * len(sorted_values) // 100)  # ceil, in integers
    return sorted_values[rank - 1]


def summarize(stats: TransitionStats) -> TransitionSummary:
    durations = sorted(_unpack(stats.chunks))
    if not durations:
        return TransitionSummary(stats.count, 0, stats.untimed_count, None, None, None)
    return TransitionSummary(
        count=stats.count,
        timed_count=len(durations),
        untimed_count=stats.untimed_count,
        p50_ms=nearest_rank(durations, 50),
        p95_ms=nearest_rank(durations, 95),
        max_ms=durations[-1],
    )
