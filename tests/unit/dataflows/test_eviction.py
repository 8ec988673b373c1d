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


def test_a_batch_of_state_keys_becomes_one_entry_per_shard_each_key_once() -> None:
    schedule = SweepSchedule(timedelta(hours=1))
    entries = schedule.entries(5, [str(order) for order in range(100)] + ["17"])
    assert sorted(key for key, _ in entries) == sorted(f"5|{s}" for s in range(SHARDS))
    noted = [order for _, (slot, orders) in entries for order in orders]
    assert all(slot == 5 for _, (slot, _) in entries)
    assert sorted(noted, key=int) == [str(o) for o in range(100)]  # "17" noted once
    by_key = dict(entries)
    assert "17" in by_key[schedule.slot_key(5, "17")][1]
