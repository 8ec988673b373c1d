"""dataflows.stateful: the Bytewax logic adapters, driven by hand with a settable clock."""

from __future__ import annotations

from datetime import timedelta

from bytewax.operators import StatefulLogic
from bytewax.testing import TimeTestingGetter
from prometheus_client import REGISTRY

from dataflows.cdc import DeadLetter, Reason
from dataflows.clock import Clock
from dataflows.routing import Timed
from dataflows.stateful import OrderTracker, WindowedAggregate
from dataflows.windows import EventTimeWindows, Fold, WindowResult, WindowSpec
from tests.unit.dataflows.order_changes import NOW, at, img, insert, update

IDLE = timedelta(minutes=10)


def tracked_orders() -> float:
    return REGISTRY.get_sample_value("orders_tracked_orders") or 0.0


def test_order_tracker_drops_duplicates_and_is_evicted_when_idle() -> None:
    time = TimeTestingGetter(NOW)
    before = tracked_orders()
    tracker = OrderTracker(None, IDLE, Clock(now=time.get))
    assert tracked_orders() - before == 1
    assert tracker.notify_at() is None

    pending, paid = img("PENDING", 1, 0), img("PAID", 2, 5)
    emitted, discard = tracker.on_item(insert(pending))
    assert [t.change.version for t in emitted] == [1] and discard is StatefulLogic.RETAIN
    time.advance(timedelta(minutes=4))
    assert list(tracker.on_item(insert(pending))[0]) == []  # duplicate, but activity
    assert tracker.notify_at() == NOW + timedelta(minutes=14)

    time.advance(timedelta(minutes=9))
    assert tracker.on_notify() == ([], StatefulLogic.RETAIN)
    time.advance(timedelta(minutes=1))
    assert tracker.on_notify() == ([], StatefulLogic.DISCARD)
    assert tracked_orders() == before

    resumed = OrderTracker(tracker.snapshot(), IDLE, Clock(now=time.get))
    emitted, _ = resumed.on_item(update(pending, paid))
    assert [t.time_in_previous_status for t in emitted] == [timedelta(seconds=5)]


def test_frozen_clock_schedules_no_wake_ups() -> None:
    tracker = OrderTracker(None, IDLE, Clock(now=lambda: NOW, wakes_up=False))
    tracker.on_item(insert(img("PAID", 1, 0)))
    assert tracker.notify_at() is None


def aggregate(retention: timedelta, time: TimeTestingGetter) -> WindowedAggregate[int, int]:
    spec = WindowSpec(timedelta(minutes=1), timedelta(seconds=10), retention)
    windows: EventTimeWindows[int, int] = EventTimeWindows(
        spec, Fold(lambda: 0, lambda t, v: t + v)
    )
    return WindowedAggregate("revenue", windows, Clock(now=time.get))


def timed(seconds: float, value: int) -> Timed[int]:
    change = insert(img("PAID", 1, seconds))
    return Timed(at(seconds), value, change.raw)


def test_windowed_aggregate_closes_on_notify_and_dead_letters_expired_changes() -> None:
    time = TimeTestingGetter(NOW)
    logic = aggregate(timedelta(minutes=1), time)
    assert list(logic.on_item(timed(30, 1))[0]) == []
    assert logic.notify_at() == NOW + timedelta(seconds=40)
    time.advance(timedelta(seconds=40))
    closed, _ = logic.on_notify()
    assert list(closed) == [WindowResult(at(0), at(60), 1, 1)]

    late_before = (
        REGISTRY.get_sample_value("orders_late_events_total", {"aggregate": "revenue"}) or 0
    )
    corrected, _ = logic.on_item(timed(31, 2))
    assert list(corrected) == [WindowResult(at(0), at(60), 3, 2)]
    time.advance(timedelta(minutes=5))
    logic.on_notify()  # the watermark passes 00:02:00: [00:00, 00:01) is dropped
    out, _ = logic.on_item(timed(32, 4))
    [letter] = list(out)
    assert isinstance(letter, DeadLetter) and letter.reason is Reason.WINDOW_EXPIRED
    late_after = REGISTRY.get_sample_value("orders_late_events_total", {"aggregate": "revenue"})
    assert late_after == late_before + 2


def test_windowed_aggregate_emits_open_windows_at_end_of_input() -> None:
    time = TimeTestingGetter(NOW)
    logic = aggregate(timedelta(hours=1), time)
    logic.on_item(timed(5, 1))
    snapshot = logic.snapshot()
    logic.on_item(timed(6, 1))
    assert list(logic.on_eof()[0]) == [WindowResult(at(0), at(60), 2, 1)]
    assert snapshot.open == {at(0): 1}
