"""Bytewax stateful steps over the pure rules in dedupe.py and windows.py."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from bytewax.operators import StatefulLogic

from dataflows import dedupe, metrics, records
from dataflows.cdc import DeadLetter, OrderChange
from dataflows.clock import Clock
from dataflows.dedupe import OrderMemory, TrackedChange
from dataflows.routing import Timed
from dataflows.windows import EventTimeWindows, WindowResult, WindowsState

V = TypeVar("V")
A = TypeVar("A")


class OrderTracker(StatefulLogic[OrderChange, TrackedChange, OrderMemory | None]):
    """Per order id: drop duplicates, remember status entry times, evict when idle."""

    def __init__(self, memory: OrderMemory | None, idle_after: timedelta, clock: Clock) -> None:
        self._memory = memory
        self._idle_after = idle_after
        self._clock = clock
        metrics.TRACKED_ORDERS.inc()

    def on_item(self, value: OrderChange) -> tuple[Iterable[TrackedChange], bool]:
        self._memory, tracked = dedupe.track(self._memory, value, self._clock.now())
        if tracked is None:
            metrics.DUPLICATES_DROPPED.inc()
            return [], StatefulLogic.RETAIN
        return [tracked], StatefulLogic.RETAIN

    def on_notify(self) -> tuple[Iterable[TrackedChange], bool]:
        memory = self._memory
        if memory is None or dedupe.is_idle(memory, self._clock.now(), self._idle_after):
            metrics.TRACKED_ORDERS.dec()
            return [], StatefulLogic.DISCARD
        return [], StatefulLogic.RETAIN

    def notify_at(self) -> datetime | None:
        if not self._clock.wakes_up or self._memory is None:
            return None
        return dedupe.evict_at(self._memory, self._idle_after)

    def snapshot(self) -> OrderMemory | None:
        return self._memory  # immutable


class WindowedAggregate(
    StatefulLogic[Timed[V], WindowResult[A] | DeadLetter, WindowsState[A]], Generic[V, A]
):
    """Per aggregate key: event-time windows with late corrections (see windows.py).

    Emits each window's complete totals when it closes and again after each late change; a
    change too late to correct its window comes out as a ``window_expired`` dead letter.
    """

    def __init__(self, aggregate: str, windows: EventTimeWindows[V, A], clock: Clock) -> None:
        self._aggregate = aggregate
        metrics.LATE_EVENTS.labels(aggregate)  # exported at 0 from the start, for increase()
        self._windows = windows
        self._clock = clock

    def on_item(self, value: Timed[V]) -> tuple[Iterable[WindowResult[A] | DeadLetter], bool]:
        outcome = self._windows.on_event(value.event_time, value.value, self._clock.now())
        out: list[WindowResult[A] | DeadLetter] = list(outcome.results)
        if outcome.late:
            metrics.LATE_EVENTS.labels(self._aggregate).inc()
        if outcome.expired:
            start = self._windows.spec.start_of(value.event_time)
            out.append(records.expired_change(value.raw, start, self._aggregate))
        return out, StatefulLogic.RETAIN

    def on_notify(self) -> tuple[Iterable[WindowResult[A] | DeadLetter], bool]:
        return self._windows.on_tick(self._clock.now()), StatefulLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[WindowResult[A] | DeadLetter], bool]:
        return self._windows.close_all(), StatefulLogic.RETAIN

    def notify_at(self) -> datetime | None:
        return self._windows.next_wake() if self._clock.wakes_up else None

    def snapshot(self) -> WindowsState[A]:
        return self._windows.snapshot()
