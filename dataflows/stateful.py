"""Bytewax stateful steps over the pure rules in dedupe.py and windows.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from bytewax.operators import StatefulLogic

from dataflows import metrics, records
from dataflows.cdc import DeadLetter, OrderChange
from dataflows.clock import Clock
from dataflows.dedupe import TrackedChange
from dataflows.eviction import IdleCheck, SweepSchedule
from dataflows.order_buckets import BucketSnapshot, OrderBucket
from dataflows.routing import Partial
from dataflows.utc import micros
from dataflows.windows import EventTimeWindows, WindowResult, WindowsState

A = TypeVar("A")


class OrderTracker(
    StatefulLogic[list[OrderChange] | IdleCheck, list[TrackedChange], BucketSnapshot]
):
    """Per bucket of order ids (order_buckets.py): drop duplicates, remember status entry
    times, forget the bucket's idle orders when an :class:`IdleCheck` comes (no timer per
    order: see eviction.py), and drop the bucket once it is empty.

    Takes the bucket's changes of an input batch as one item (routing.py) and emits the
    ones that passed as one item, in the same order."""

    def __init__(
        self, state: object, idle_after: timedelta, clock: Clock, step_id: str = "dedupe"
    ) -> None:
        self._bucket = OrderBucket.restore(state, step_id)
        self._idle_after = idle_after
        self._clock = clock
        metrics.TRACKED_ORDERS.inc(len(self._bucket))

    def on_item(
        self, value: list[OrderChange] | IdleCheck
    ) -> tuple[Iterable[list[TrackedChange]], bool]:
        if isinstance(value, IdleCheck):
            return [], self._check_idle()
        now_us = micros(self._clock.now())  # once per group: the changes arrived together
        passed: list[TrackedChange] = []
        new_orders = 0
        track = self._bucket.track
        for change in value:
            tracked, new_order = track(change, now_us)
            new_orders += new_order
            if tracked is not None:
                passed.append(tracked)
        if new_orders:
            metrics.TRACKED_ORDERS.inc(new_orders)
        if len(passed) < len(value):
            metrics.DUPLICATES_DROPPED.inc(len(value) - len(passed))
        return ([passed] if passed else []), StatefulLogic.RETAIN

    def _check_idle(self) -> bool:
        forgotten = self._bucket.evict_idle(self._clock.now(), self._idle_after)
        metrics.TRACKED_ORDERS.dec(forgotten)
        return StatefulLogic.DISCARD if len(self._bucket) == 0 else StatefulLogic.RETAIN

    def snapshot(self) -> BucketSnapshot:
        return self._bucket.snapshot()


class IdleSweep(
    StatefulLogic[tuple[int, tuple[str, ...]], str, tuple[int, frozenset[str]]]
):
    """Per sweep key (a slot of system time and a shard): the bucket keys changed in it.

    When the slot is old enough (``SweepSchedule.check_at``), emits each of them once, to be
    turned into an :class:`IdleCheck` for that bucket, and is discarded."""

    def __init__(
        self, state: tuple[int, frozenset[str]] | None, schedule: SweepSchedule, clock: Clock
    ) -> None:
        self._slot: int | None = None if state is None else state[0]
        self._orders: set[str] = set() if state is None else set(state[1])
        self._schedule = schedule
        self._clock = clock

    def on_item(self, value: tuple[int, tuple[str, ...]]) -> tuple[Iterable[str], bool]:
        self._slot = value[0]
        self._orders.update(value[1])
        return [], StatefulLogic.RETAIN

    def on_notify(self) -> tuple[Iterable[str], bool]:
        return list(self._orders), StatefulLogic.DISCARD

    def notify_at(self) -> datetime | None:
        if not self._clock.wakes_up or self._slot is None:
            return None
        return self._schedule.check_at(self._slot)

    def snapshot(self) -> tuple[int, frozenset[str]]:
        assert self._slot is not None  # Bytewax snapshots only keys that received an item
        return self._slot, frozenset(self._orders)


class WindowedAggregate(
    StatefulLogic[list[Partial[A]], WindowResult[A] | DeadLetter, WindowsState[A]],
    Generic[A],
):
    """Per aggregate key: event-time windows with late corrections (see windows.py).

    Emits each window's complete totals when it closes and again after each late batch of
    changes (one :class:`~dataflows.routing.Partial`); a change too late to correct its
    window comes out as a ``window_expired`` dead letter.
    """

    def __init__(
        self,
        aggregate: str,
        windows: EventTimeWindows[A, A],
        clock: Clock,
        channels: Callable[[], Iterable[int]] = frozenset,
    ) -> None:
        """``channels``: every input channel the dataflow reads, when known (asked at the
        first input, once the source has listed its partitions)."""
        self._aggregate = aggregate
        metrics.LATE_EVENTS.labels(aggregate)  # exported at 0 from the start, for increase()
        self._windows = windows
        self._clock = clock
        self._channels: Callable[[], Iterable[int]] | None = channels
        windows.on_resume(clock.now())  # a new key has no partitions yet: nothing to do

    def on_item(
        self, parts: list[Partial[A]]
    ) -> tuple[Iterable[WindowResult[A] | DeadLetter], bool]:
        """``parts``: the key's window inputs of one input batch, in order of arrival."""
        now = self._clock.now()
        windows = self._windows
        if self._channels is not None:
            windows.await_channels(self._channels(), now)
            self._channels = None
        out: list[WindowResult[A] | DeadLetter] = []
        late = 0
        for part in parts:
            outcome = windows.on_event(part.event_time, part.value, now, part.channel, settle=False)
            out.extend(outcome.results)
            if outcome.late:
                late += len(part.raws)
                if outcome.expired:
                    start = windows.spec.start_of(part.event_time)
                    expired = records.expired_change
                    out.extend(expired(raw, start, self._aggregate) for raw in part.raws)
        out.extend(windows.on_tick(now))  # what the group made due
        if late:
            metrics.LATE_EVENTS.labels(self._aggregate).inc(late)
        return out, StatefulLogic.RETAIN

    def on_notify(self) -> tuple[Iterable[WindowResult[A] | DeadLetter], bool]:
        return self._windows.on_tick(self._clock.now()), StatefulLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[WindowResult[A] | DeadLetter], bool]:
        return self._windows.close_all(), StatefulLogic.RETAIN

    def notify_at(self) -> datetime | None:
        return self._windows.next_wake() if self._clock.wakes_up else None

    def snapshot(self) -> WindowsState[A]:
        return self._windows.snapshot()
