"""dataflows.eviction: slots of system time instead of one timer per order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dataflows.eviction import SHARDS, SweepSchedule

NOW = datetime(2030, 1, 1, 12, 0, 7, tzinfo=UTC)


def test_slots_are_a_64th_of_the_idle_time_and_at_least_a_second() -> None:
    assert SweepSchedule(timedelta(hours=6)).slot_length == timedelta(seconds=337.5)
    assert SweepSchedule(timedelta(seconds=10)).slot_length == timedelta(seconds=1)


def test_every_order_of_a_slot_may_be_idle_when_it_is_checked() -> None:
    idle = timedelta(minutes=64)
    schedule = SweepSchedule(idle)  # one-minute slots
    slot = schedule.slot_of(NOW)
    slot_start = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    assert schedule.slot_of(slot_start) == slot
    assert schedule.slot_of(slot_start - timedelta(microseconds=1)) == slot - 1
    # noted in the slot, last seen at the latest by the end of the next slot
    latest_last_seen = slot_start + 2 * schedule.slot_length
    assert schedule.check_at(slot) == latest_last_seen + idle
    # and forgotten at most two slots after it became idle
    assert schedule.check_at(slot) - (slot_start + idle) == 2 * schedule.slot_length


def test_orders_are_spread_over_shards() -> None:
    schedule = SweepSchedule(timedelta(hours=1))
    keys = {schedule.slot_key(5, str(order)) for order in range(100)}
    assert keys == {f"5|{shard}" for shard in range(SHARDS)}
    assert schedule.slot_key(5, "17") == schedule.slot_key(5, "17")
