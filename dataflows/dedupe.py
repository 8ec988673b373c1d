"""Per-order memory: dedupe by version, status entry times, transition legality.

Pure: no bytewax, no confluent_kafka. The dataflow keeps one :class:`OrderMemory` per order
id (keyed state, so it is correct with any number of workers) and drops it after the order
has been idle for a while; :func:`track` is the whole rule set.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dataflows.cdc import Op, OrderChange
from dataflows.utc import MICROSECOND, from_micros
from dataflows.value import Value
from orderstream.contract import OrderStatus, is_legal_transition

ILLEGAL_TRANSITION = "illegal_transition"


class OrderMemory(Value, frozen=True):
    """What the dataflow remembers about one order; times in microseconds since the Unix
    epoch, UTC (as the images carry them, cdc.py)."""

    version: int  # highest version emitted
    deleted: bool  # the delete of that version was emitted too
    status: OrderStatus
    status_since_us: int | None  # when the order entered `status`; None: unknown
    last_seen_us: int  # system time of the last change, for idle eviction

    @property
    def last_seen(self) -> datetime:
        return from_micros(self.last_seen_us)


class TrackedChange(Value, frozen=True):
    """A change that passed dedupe, with what the per-order memory adds to it."""

    change: OrderChange
    anomalies: tuple[str, ...]
    # For a status change (from != to): microseconds spent in `from`; None when the entry
    # time is unknown (first seen mid-life, or memory evicted). Always None for other changes.
    time_in_previous_us: int | None

    @property
    def time_in_previous_status(self) -> timedelta | None:
        elapsed = self.time_in_previous_us
        return None if elapsed is None else elapsed * MICROSECOND

    @property
    def is_status_change(self) -> bool:
        change = self.change
        return (
            change.op is Op.UPDATE
            and change.before is not None
            and change.after is not None
            and change.before.status != change.after.status
        )


def is_duplicate(change: OrderChange, version: int, deleted: bool) -> bool:
    """Whether ``change`` is not newer than the highest version emitted (``deleted``: its
    delete was emitted too).

    A delete carries the version of the row it removes, so it ranks just after that
    version: changes rank as ``(version, is a delete)`` pairs, compared here without
    building them (this runs for every change)."""
    changed = change.image.version
    return changed < version or (
        changed == version and (deleted or change.op is not Op.DELETE)
    )


def track(
    memory: OrderMemory | None, change: OrderChange, now_us: int
) -> tuple[OrderMemory | None, TrackedChange | None]:
    """Apply one change to an order's memory; ``now_us``: system time in microseconds since
    the epoch.

    Returns the new memory and the tracked change, or ``None`` for a duplicate (a version
    not higher than the highest one emitted), which leaves the memory as it was except
    that the order counts as seen now.
    """
    if memory is not None and is_duplicate(change, memory.version, memory.deleted):
        return _seen(memory, now_us), None

    is_delete = change.op is Op.DELETE
    image = change.image
    anomalies: tuple[str, ...] = ()
    time_in_previous: int | None = None
    status_since: int | None

    if change.op is Op.READ:
        # Snapshot: the baseline. Its updated_at stands in for the entry time.
        status_since = image.updated_us
    elif change.op is Op.CREATE:
        if not is_legal_transition(None, image.status):
            anomalies = (ILLEGAL_TRANSITION,)
        status_since = image.updated_us
    elif change.op is Op.UPDATE:
        assert change.before is not None
        from_status, to_status = change.before.status, image.status
        if not is_legal_transition(from_status, to_status):
            anomalies = (ILLEGAL_TRANSITION,)
        known_since = _known_entry_time(memory, from_status)
        if from_status != to_status:
            if known_since is not None:
                time_in_previous = image.updated_us - known_since
            status_since = image.updated_us
        else:
            status_since = known_since
    else:  # delete: the order keeps its last status; nothing to time
        status_since = _known_entry_time(memory, image.status)

    new_memory = OrderMemory(image.version, is_delete, image.status, status_since, now_us)
    return new_memory, TrackedChange(change, anomalies, time_in_previous)


def _known_entry_time(memory: OrderMemory | None, status: OrderStatus) -> int | None:
    if memory is None or memory.status != status:
        return None
    return memory.status_since_us


def _seen(memory: OrderMemory, now_us: int) -> OrderMemory:
    if now_us <= memory.last_seen_us:
        return memory
    return OrderMemory(
        memory.version, memory.deleted, memory.status, memory.status_since_us, now_us
    )


def is_idle(memory: OrderMemory, now: datetime, idle_after: timedelta) -> bool:
    return now - memory.last_seen >= idle_after
