"""dataflows.stateful: the Bytewax logic adapters, driven by hand with a settable clock."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import msgspec
import pytest
from bytewax.operators import StatefulLogic
from bytewax.testing import TimeTestingGetter
from prometheus_client import REGISTRY

from dataflows.cdc import DeadLetter, OrderChange, Reason
from dataflows.clock import Clock
from dataflows.dedupe import OrderMemory, TrackedChange
from dataflows.eviction import IDLE_CHECK, SweepSchedule
from dataflows.order_buckets import RecoveryLayoutError
from dataflows.routing import Partial, channel, revenue_groups
from dataflows.stateful import IdleSweep, OrderTracker, WindowedAggregate
from dataflows.utc import micros
from dataflows.windows import EventTimeWindows, Fold, WindowResult, WindowSpec
from orderstream.contract import OrderStatus
from tests.unit.dataflows.order_changes import NOW, at, img, insert, update

IDLE = timedelta(minutes=10)


def track(tracker: OrderTracker, changes: list[OrderChange]) -> tuple[list[TrackedChange], bool]:
    """One group of changes through the tracker; the tracked changes, flattened."""
    emitted, discard = tracker.on_item(changes)
    return [t for group in emitted for t in group], discard


def tracked_orders() -> float:
    return REGISTRY.get_sample_value("orders_tracked_orders") or 0.0


def test_order_tracker_drops_duplicates_and_forgets_idle_orders_of_its_bucket() -> None:
    time = TimeTestingGetter(NOW)
    before = tracked_orders()
    tracker = OrderTracker(None, IDLE, Clock(now=time.get))
    assert tracked_orders() == before

    pending, paid = img("PENDING", 1, 0), img("PAID", 2, 5)
    other = img("PENDING", 1, 0, order_id=2)
    emitted, discard = track(tracker, [insert(pending)])
    assert [t.change.version for t in emitted] == [1] and discard is StatefulLogic.RETAIN
    assert tracked_orders() - before == 1
    time.advance(timedelta(minutes=4))
    assert list(track(tracker, [insert(pending)])[0]) == []  # duplicate, but activity
    assert tracked_orders() - before == 1
    assert tracker.notify_at() is None  # no timer per key (eviction.py)
    time.advance(timedelta(minutes=3))
    assert [t.change.order_id for t in track(tracker, [insert(other)])[0]] == [2]
    assert tracked_orders() - before == 2

    time.advance(timedelta(minutes=6))  # order 1 idle 9 minutes: kept
    assert tracker.on_item(IDLE_CHECK) == ([], StatefulLogic.RETAIN)
    assert tracked_orders() - before == 2
    time.advance(timedelta(minutes=1))  # order 1 idle 10 minutes: forgotten; order 2 kept
    assert tracker.on_item(IDLE_CHECK) == ([], StatefulLogic.RETAIN)
    assert tracked_orders() - before == 1
    snapshot = tracker.snapshot()
    assert sorted(snapshot[1]) == [2]

    resumed = OrderTracker(snapshot, IDLE, Clock(now=time.get))
    assert tracked_orders() - before == 2  # the resumed bucket counts its order again
    emitted, _ = track(resumed, [insert(other)])
    assert list(emitted) == []  # order 2's memory survived the snapshot
    emitted, _ = track(resumed, [update(pending, paid)])
    assert [t.time_in_previous_status for t in emitted] == [None]  # order 1 was forgotten
    time.advance(timedelta(minutes=10))
    assert resumed.on_item(IDLE_CHECK) == ([], StatefulLogic.DISCARD)  # empty: dropped


def test_a_snapshot_does_not_change_with_later_changes() -> None:
    tracker = OrderTracker(None, IDLE, Clock(now=lambda: NOW))
    track(tracker, [insert(img("PENDING", 1, 0))])
    snapshot = tracker.snapshot()
    track(tracker, [update(img("PENDING", 1, 0), img("PAID", 2, 5))])
    assert snapshot == OrderTracker(snapshot, IDLE, Clock(now=lambda: NOW)).snapshot()
    assert snapshot != tracker.snapshot()


def test_an_idle_check_for_a_bucket_without_memory_leaves_nothing_behind() -> None:
    before = tracked_orders()
    tracker = OrderTracker(None, IDLE, Clock(now=lambda: NOW))
    assert tracker.on_item(IDLE_CHECK) == ([], StatefulLogic.DISCARD)
    assert tracked_orders() == before


def test_state_of_the_per_order_layout_stops_the_dataflow_with_what_to_do() -> None:
    old = OrderMemory(3, False, OrderStatus.PAID, micros(NOW), micros(NOW))  # one key's state
    with pytest.raises(RecoveryLayoutError, match="dedupe_by_order: .*reset-dataflow"):
        OrderTracker(old, IDLE, Clock(now=lambda: NOW), "dedupe_by_order")


def test_idle_sweep_asks_every_order_of_its_slot_once_when_the_slot_is_old_enough() -> None:
    time = TimeTestingGetter(NOW)
    schedule = SweepSchedule(IDLE)
    slot = schedule.slot_of(NOW)
    sweep = IdleSweep(None, schedule, Clock(now=time.get))
    assert sweep.notify_at() is None
    for orders in (("7", "15"), ("7",)):
        assert sweep.on_item((slot, orders)) == ([], StatefulLogic.RETAIN)
    assert sweep.notify_at() == schedule.check_at(slot)

    resumed = IdleSweep(sweep.snapshot(), schedule, Clock(now=time.get))
    assert resumed.notify_at() == schedule.check_at(slot)
    emitted, discard = resumed.on_notify()
    assert sorted(emitted) == ["15", "7"] and discard is StatefulLogic.DISCARD


def test_idle_sweep_with_a_frozen_clock_schedules_nothing() -> None:
    schedule = SweepSchedule(IDLE)
    sweep = IdleSweep(None, schedule, Clock(now=lambda: NOW, wakes_up=False))
    sweep.on_item((schedule.slot_of(NOW), ("7",)))
    assert sweep.notify_at() is None


SPEC = WindowSpec(timedelta(minutes=1), timedelta(seconds=10), timedelta(hours=1))


def aggregate(retention: timedelta, time: TimeTestingGetter) -> WindowedAggregate[int]:
    spec = WindowSpec(SPEC.length, SPEC.allowed_lateness, retention)
    windows: EventTimeWindows[int, int] = EventTimeWindows(
        spec, Fold(lambda: 0, lambda t, v: t + v)
    )
    return WindowedAggregate("revenue", windows, Clock(now=time.get))


def timed(seconds: float, value: int) -> Partial[int]:
    change = insert(img("PAID", 1, seconds))
    return Partial(at(seconds), value, [change.raw], channel(change.raw.partition, 0))


def test_windowed_aggregate_closes_on_notify_and_dead_letters_expired_changes() -> None:
    time = TimeTestingGetter(NOW)
    logic = aggregate(timedelta(minutes=1), time)
    assert list(logic.on_item([timed(30, 1)])[0]) == []
    assert logic.notify_at() == NOW + timedelta(seconds=40)
    time.advance(timedelta(seconds=40))
    closed, _ = logic.on_notify()
    assert list(closed) == [WindowResult(at(0), at(60), 1, 1)]

    late_before = (
        REGISTRY.get_sample_value("orders_late_events_total", {"aggregate": "revenue"}) or 0
    )
    corrected, _ = logic.on_item([timed(31, 2)])
    assert list(corrected) == [WindowResult(at(0), at(60), 3, 2)]
    time.advance(timedelta(minutes=5))
    logic.on_notify()  # the watermark passes 00:02:00: [00:00, 00:01) is dropped
    out, _ = logic.on_item([timed(32, 4)])
    [letter] = list(out)
    assert isinstance(letter, DeadLetter) and letter.reason is Reason.WINDOW_EXPIRED
    late_after = REGISTRY.get_sample_value("orders_late_events_total", {"aggregate": "revenue"})
    assert late_after == late_before + 2


def test_windowed_aggregate_emits_open_windows_at_end_of_input() -> None:
    time = TimeTestingGetter(NOW)
    logic = aggregate(timedelta(hours=1), time)
    logic.on_item([timed(5, 1)])
    snapshot = logic.snapshot()
    logic.on_item([timed(6, 1)])
    assert list(logic.on_eof()[0]) == [WindowResult(at(0), at(60), 2, 1)]
    assert snapshot.open == {at(0): 1}


def test_a_group_is_tracked_in_order_with_its_duplicates_dropped() -> None:
    duplicates = REGISTRY.get_sample_value("orders_duplicates_dropped_total") or 0.0
    tracker = OrderTracker(None, IDLE, Clock(now=lambda: NOW))
    pending, paid = img("PENDING", 1, 0), img("PAID", 2, 5)
    group = [insert(pending), insert(pending), update(pending, paid), insert(pending)]
    emitted, discard = tracker.on_item(group)
    [passed] = list(emitted)  # one item for the whole group
    assert [t.change.version for t in passed] == [1, 2] and discard is StatefulLogic.RETAIN
    assert [t.time_in_previous_status for t in passed] == [None, timedelta(seconds=5)]
    after = REGISTRY.get_sample_value("orders_duplicates_dropped_total")
    assert after == duplicates + 2
    assert list(tracker.on_item([insert(pending)])[0]) == []  # all duplicates: no item


def test_a_window_made_due_inside_a_group_is_emitted_with_the_group() -> None:
    time = TimeTestingGetter(NOW)
    logic = aggregate(timedelta(hours=1), time)
    # 00:01:15 - 10 s lateness passes the end of [00:00, 00:01): due after the last event.
    out, _ = logic.on_item([timed(5, 1), timed(20, 2), timed(75, 4)])
    assert list(out) == [WindowResult(at(0), at(60), 3, 1)]


def test_a_partition_tracked_by_two_processes_is_two_channels_and_nothing_is_late() -> None:
    """Partition 0's changes are tracked partly by process 0 and partly by a busy process 1,
    whose ones reach the window key 20 s later than later changes of the same partition."""
    raw = insert(img("PAID", 1, 0)).raw

    def outputs(route_of_slow: int) -> list[WindowResult[int] | DeadLetter]:
        time = TimeTestingGetter(NOW)
        logic = aggregate(timedelta(hours=1), time)
        fast, slow = channel(0, 0), channel(0, route_of_slow)
        logic.on_item([Partial(at(1), 1, [raw], fast), Partial(at(2), 1, [raw], slow)])
        logic.on_item([Partial(at(50), 1, [raw], fast)])
        time.advance(timedelta(seconds=20))
        out, _ = logic.on_item([Partial(at(5), 1, [raw], slow)])
        return list(out)

    assert outputs(route_of_slow=1) == []  # the slow channel holds the window open
    # As one channel (what a partition was before): 00:00:50 - 10 s + 20 s of system time
    # closes [00:00, 00:01) before the change at 00:00:05, which then corrects it.
    assert outputs(route_of_slow=0) == [
        WindowResult(at(0), at(60), 3, 1),
        WindowResult(at(0), at(60), 4, 2),
    ]


def test_window_inputs_carry_the_channel_of_their_partition_and_route() -> None:
    paid = update(img("PENDING", 1, 0), img("PAID", 2, 5))
    tracked = TrackedChange(paid, (), None)
    [(currency, [timed_value])] = revenue_groups([("0", [tracked])], SPEC, route=3)
    assert currency == paid.image.currency
    assert timed_value.channel == channel(paid.raw.partition, 3) != paid.raw.partition
    assert channel(4, 0) == 4  # route 0 keeps the partition number (older snapshots)
    assert channel(4, 1) != channel(5, 1) and channel(4, 1) != channel(4, 2)


def test_a_batch_reaches_a_window_key_folded_per_window_and_channel() -> None:
    def paid(seconds: float, amount: str, partition: int) -> TrackedChange:
        change = insert(img("PAID", 1, seconds, amount))
        raw = msgspec.structs.replace(change.raw, partition=partition)
        return TrackedChange(msgspec.structs.replace(change, raw=raw), (), None)

    batch = [paid(5, "1.00", 0), paid(61, "2.00", 0), paid(9, "4.00", 1), paid(7, "8.00", 0)]
    # Bucket "0" brings a change of the window after the one bucket "1" still has changes of.
    [(currency, parts)] = revenue_groups([("0", batch[:2]), ("1", batch[2:])], SPEC, route=1)
    assert currency == "USD"
    summary = [(p.event_time, p.value.gross, p.value.paid_count, p.channel) for p in parts]
    assert summary == [  # window by window, then in order of first arrival
        (at(7), Decimal("9.00"), 2, channel(0, 1)),  # each at its latest event time
        (at(9), Decimal("4.00"), 1, channel(1, 1)),
        (at(61), Decimal("2.00"), 1, channel(0, 1)),
    ]
    assert parts[0].raws == [batch[0].change.raw, batch[3].change.raw]


def test_a_late_partial_counts_each_change_and_dead_letters_each_when_expired() -> None:
    time = TimeTestingGetter(NOW)
    logic = aggregate(timedelta(minutes=1), time)
    logic.on_item([timed(30, 1)])
    time.advance(timedelta(minutes=10))
    logic.on_notify()  # closed, then dropped
    late_before = REGISTRY.get_sample_value("orders_late_events_total", {"aggregate": "revenue"})
    raws = [insert(img("PAID", 1, 31)).raw, insert(img("PAID", 1, 32)).raw]
    out, _ = logic.on_item([Partial(at(32), 2, raws, channel(0, 0))])
    assert [(d.reason, d.raw) for d in out if isinstance(d, DeadLetter)] == [
        (Reason.WINDOW_EXPIRED, raw) for raw in raws
    ]
    late_after = REGISTRY.get_sample_value("orders_late_events_total", {"aggregate": "revenue"})
    assert late_after == (late_before or 0) + 2


def test_a_later_window_first_seen_in_an_earlier_bucket_does_not_make_the_earlier_late() -> None:
    """One channel: bucket "0" only has a change after 00:01:10, bucket "1" one at 00:00:30.
    Applied in order of first arrival, the first would move the watermark past [00:00,
    00:01) before the second arrived."""
    time = TimeTestingGetter(NOW)
    logic = aggregate(timedelta(hours=1), time)
    late = REGISTRY.get_sample_value("orders_late_events_total", {"aggregate": "revenue"})
    after = TrackedChange(insert(img("PAID", 1, 75, "2.00", order_id=1)), (), None)
    before = TrackedChange(insert(img("PAID", 1, 30, "1.00", order_id=900)), (), None)
    [(_, parts)] = revenue_groups([("0", [after]), ("1", [before])], SPEC)
    out, _ = logic.on_item(
        [Partial(p.event_time, p.value.paid_count, p.raws, p.channel) for p in parts]
    )
    assert list(out) == [WindowResult(at(0), at(60), 1, 1)]
    assert REGISTRY.get_sample_value("orders_late_events_total", {"aggregate": "revenue"}) == late
