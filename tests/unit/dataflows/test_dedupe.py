"""dataflows.dedupe: version dedupe, status entry times, anomalies, idle eviction."""

from __future__ import annotations

from datetime import timedelta

from dataflows.dedupe import ILLEGAL_TRANSITION, OrderMemory, is_idle, track
from dataflows.utc import micros
from orderstream.contract import OrderStatus
from tests.unit.dataflows.order_changes import (
    NOW,
    NOW_US,
    at,
    delete,
    img,
    insert,
    snapshot,
    update,
)


def test_first_change_is_emitted_and_remembered() -> None:
    c = insert(img("PENDING", 1, 5))
    memory, tracked = track(None, c, NOW_US)
    assert tracked is not None and tracked.change is c
    assert tracked.anomalies == () and tracked.time_in_previous_status is None
    assert memory == OrderMemory(1, False, OrderStatus.PENDING, micros(at(5)), NOW_US)


def test_versions_not_higher_than_emitted_are_duplicates() -> None:
    first, second = img("PENDING", 1, 5), img("PAID", 2, 20)
    memory, _ = track(None, insert(first), NOW_US)
    memory, tracked = track(memory, update(first, second), NOW_US)
    assert tracked is not None
    for replay in (insert(first), update(first, second), snapshot(second)):
        later = NOW + timedelta(seconds=1)
        new_memory, duplicate = track(memory, replay, micros(later))
        assert duplicate is None
        assert new_memory is not None
        assert (new_memory.version, new_memory.status) == (2, OrderStatus.PAID)
        assert new_memory.last_seen == later  # a duplicate still counts as activity


def test_time_in_previous_status_comes_from_the_remembered_entry_time() -> None:
    pending, paid, shipped = img("PENDING", 1, 5), img("PAID", 2, 20.25), img("SHIPPED", 3, 80)
    memory, _ = track(None, insert(pending), NOW_US)
    memory, to_paid = track(memory, update(pending, paid), NOW_US)
    memory, to_shipped = track(memory, update(paid, shipped), NOW_US)
    assert to_paid is not None and to_shipped is not None
    assert to_paid.is_status_change and to_paid.time_in_previous_status == timedelta(seconds=15.25)
    assert to_shipped.time_in_previous_status == timedelta(seconds=59.75)


def test_amount_edit_keeps_the_entry_time_and_is_not_a_transition() -> None:
    paid, edited, shipped = img("PAID", 1, 0), img("PAID", 2, 30, "12.00"), img("SHIPPED", 3, 50)
    memory, _ = track(None, insert(paid), NOW_US)
    memory, edit = track(memory, update(paid, edited), NOW_US)
    assert edit is not None and not edit.is_status_change
    assert edit.time_in_previous_status is None and edit.anomalies == ()
    memory, ship = track(memory, update(edited, shipped), NOW_US)
    assert ship is not None and ship.time_in_previous_status == timedelta(seconds=50)


def test_snapshot_sets_baseline_and_entry_time() -> None:
    paid, shipped = img("PAID", 4, 10), img("SHIPPED", 5, 70)
    memory, read = track(None, snapshot(paid), NOW_US)
    assert read is not None and read.anomalies == ()
    _, ship = track(memory, update(paid, shipped), NOW_US)
    assert ship is not None and ship.time_in_previous_status == timedelta(seconds=60)


def test_transition_without_known_entry_time_is_untimed() -> None:
    paid, shipped, delivered = img("PAID", 4, 10), img("SHIPPED", 5, 70), img("DELIVERED", 6, 90)
    memory, ship = track(None, update(paid, shipped), NOW_US)  # first seen mid-life
    assert ship is not None and ship.is_status_change and ship.time_in_previous_status is None
    _, deliver = track(memory, update(shipped, delivered), NOW_US)
    assert deliver is not None and deliver.time_in_previous_status == timedelta(seconds=20)


def test_entry_time_of_another_status_is_not_used() -> None:
    # The memory says PENDING since 0 but the before-image says PAID: versions were missed.
    pending, paid, shipped = img("PENDING", 1, 0), img("PAID", 3, 30), img("SHIPPED", 4, 60)
    memory, _ = track(None, insert(pending), NOW_US)
    _, ship = track(memory, update(paid, shipped), NOW_US)
    assert ship is not None and ship.time_in_previous_status is None


def test_illegal_transitions_and_inserts_are_flagged_but_emitted() -> None:
    pending, shipped = img("PENDING", 1, 0), img("SHIPPED", 2, 10)
    memory, _ = track(None, insert(pending), NOW_US)
    _, skipped = track(memory, update(pending, shipped), NOW_US)
    assert skipped is not None and skipped.anomalies == (ILLEGAL_TRANSITION,)
    _, odd_insert = track(None, insert(img("DELIVERED", 1, 0)), NOW_US)
    assert odd_insert is not None and odd_insert.anomalies == (ILLEGAL_TRANSITION,)
    _, paid_insert = track(None, insert(img("PAID", 1, 0)), NOW_US)
    assert paid_insert is not None and paid_insert.anomalies == ()


def test_delete_of_the_last_version_is_new_once() -> None:
    cancelled = img("CANCELLED", 3, 40)
    memory, _ = track(None, snapshot(cancelled), NOW_US)
    memory, deleted = track(memory, delete(cancelled), NOW_US)
    assert deleted is not None and deleted.time_in_previous_status is None
    assert memory is not None and memory.deleted
    _, again = track(memory, delete(cancelled), NOW_US)
    assert again is None


def test_idle_eviction_time() -> None:
    memory = OrderMemory(1, False, OrderStatus.PAID, micros(at(0)), NOW_US)
    idle = timedelta(minutes=5)
    assert not is_idle(memory, NOW + idle - timedelta(microseconds=1), idle)
    assert is_idle(memory, NOW + idle, idle)
