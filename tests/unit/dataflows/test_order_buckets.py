"""dataflows.order_buckets: per-order memories in buckets, packed; same rules as dedupe.track."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataflows.cdc import OrderChange
from dataflows.dedupe import OrderMemory, track
from dataflows.order_buckets import (
    ORDERS_PER_BUCKET,
    OrderBucket,
    RecoveryLayoutError,
    bucket_key,
    pack,
    unpack,
)
from orderstream.contract import OrderStatus
from tests.unit.dataflows.order_changes import NOW, img, insert, update
from tests.unit.dataflows.test_properties import clean_and_dirty_logs

MOMENTS = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
MEMORIES = st.builds(
    OrderMemory,
    version=st.integers(0, 2**62),
    deleted=st.booleans(),
    status=st.sampled_from(list(OrderStatus)),
    status_since=st.none() | MOMENTS,
    last_seen=MOMENTS,
)


@given(MEMORIES)
def test_pack_then_unpack_gives_the_same_memory(memory: OrderMemory) -> None:
    assert unpack(pack(memory)) == memory
    assert all(isinstance(field, int) for field in pack(memory))


def test_consecutive_order_ids_share_a_bucket() -> None:
    def key(order_id: int) -> str:
        return bucket_key(insert(img("PENDING", 1, 0, order_id=order_id)))

    assert key(0) == key(ORDERS_PER_BUCKET - 1) == "0"
    assert key(ORDERS_PER_BUCKET) == "1"
    assert key(10 * ORDERS_PER_BUCKET + 3) == "10"


@settings(max_examples=200, deadline=None)
@given(clean_and_dirty_logs(), st.lists(st.integers(0, 40), max_size=4))
def test_a_bucket_decides_like_per_order_memories_across_snapshot_and_restore(
    logs: tuple[list[OrderChange], list[OrderChange]], restore_at: list[int]
) -> None:
    _, dirty = logs
    memories: dict[int, OrderMemory] = {}
    bucket = OrderBucket()
    for index, change in enumerate(dirty):
        if index in restore_at:  # as Bytewax does at an epoch end and on resume
            bucket = OrderBucket.restore(pickle.loads(pickle.dumps(bucket.snapshot())), "t")
        memory, expected = track(memories.get(change.order_id), change, NOW)
        assert memory is not None
        memories[change.order_id] = memory
        tracked, _ = bucket.track(change, NOW)
        assert tracked == expected
        assert bucket.memory(change.order_id) == memory
    assert len(bucket) == len(memories)


def test_evict_idle_forgets_exactly_the_orders_idle_long_enough() -> None:
    idle = timedelta(minutes=10)
    bucket = OrderBucket()
    first, second = img("PENDING", 1, 0, order_id=1), img("PENDING", 1, 0, order_id=2)
    assert bucket.track(insert(first), NOW)[1] is True  # new to the bucket
    bucket.track(insert(second), NOW + timedelta(minutes=1))
    assert bucket.track(insert(first), NOW)[1] is False  # known order: not new
    assert bucket.evict_idle(NOW + idle - timedelta(microseconds=1), idle) == 0
    assert bucket.evict_idle(NOW + idle, idle) == 1
    assert bucket.memory(1) is None and bucket.memory(2) is not None
    assert bucket.evict_idle(NOW + idle + timedelta(minutes=1), idle) == 1
    assert len(bucket) == 0


def test_a_restored_bucket_remembers_status_entry_times() -> None:
    bucket = OrderBucket()
    pending, paid = img("PENDING", 1, 0), img("PAID", 2, 5)
    bucket.track(insert(pending), NOW)
    restored = OrderBucket.restore(pickle.loads(pickle.dumps(bucket.snapshot())), "t")
    tracked, _ = restored.track(update(pending, paid), NOW)
    assert tracked is not None and tracked.time_in_previous_status == timedelta(seconds=5)


def test_a_snapshot_of_the_per_order_layout_is_refused_by_name() -> None:
    old = OrderMemory(3, False, OrderStatus.PAID, NOW, NOW)
    with pytest.raises(RecoveryLayoutError, match="dedupe_by_order: .*older layout"):
        OrderBucket.restore(old, "dedupe_by_order")
    assert len(OrderBucket.restore(None, "dedupe_by_order")) == 0


def test_a_bucket_of_a_run_of_several_workers_resumes_only_with_as_many() -> None:
    bucket = OrderBucket(None, workers=2)
    bucket.track(insert(img("PENDING", 1, 0)), NOW)
    snapshot = pickle.loads(pickle.dumps(bucket.snapshot()))
    assert OrderBucket.restore(snapshot, "dedupe_by_order", workers=2).memory(1) is not None
    with pytest.raises(RecoveryLayoutError, match="2 Bytewax worker.*has 3.*-a/BYTEWAX_ADDR"):
        OrderBucket.restore(snapshot, "dedupe_by_order", workers=3)
    one = OrderBucket(None)
    one.track(insert(img("PENDING", 1, 0)), NOW)
    with pytest.raises(RecoveryLayoutError, match="1 Bytewax worker.*has 2.*reset-dataflow"):
        OrderBucket.restore(one.snapshot(), "dedupe_by_order", workers=2)
