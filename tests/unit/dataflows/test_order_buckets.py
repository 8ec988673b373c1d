"""dataflows.order_buckets: per-order memories in buckets, packed; same rules as dedupe.track."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataflows import placement
from dataflows.cdc import OrderChange
from dataflows.dedupe import OrderMemory, track
from dataflows.order_buckets import (
    LAYOUT,
    ORDERS_PER_BUCKET,
    OrderBucket,
    RecoveryLayoutError,
    bucket_key,
    pack,
    unpack,
)
from dataflows.utc import micros
from orderstream.contract import OrderStatus
from tests.unit.dataflows.order_changes import NOW, NOW_US, img, insert, update
from tests.unit.dataflows.test_properties import clean_and_dirty_logs

MOMENTS = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(micros)
MEMORIES = st.builds(
    OrderMemory,
    version=st.integers(0, 2**62),
    deleted=st.booleans(),
    status=st.sampled_from(list(OrderStatus)),
    status_since_us=st.none() | MOMENTS,
    last_seen_us=MOMENTS,
)


@given(MEMORIES)
def test_pack_then_unpack_gives_the_same_memory(memory: OrderMemory) -> None:
    assert unpack(pack(memory)) == memory
    assert all(isinstance(field, int) for field in pack(memory))


def test_consecutive_order_ids_of_a_partition_share_a_bucket() -> None:
    def key(order_id: int, partition: int = 0) -> str:
        change = insert(img("PENDING", 1, 0, order_id=order_id))
        return bucket_key(
            msgspec.structs.replace(
                change, raw=msgspec.structs.replace(change.raw, partition=partition)
            )
        )

    assert key(0) == key(ORDERS_PER_BUCKET - 1) == placement.bucket_key(0, 0)
    assert key(ORDERS_PER_BUCKET) == placement.bucket_key(0, 1) != key(0)
    assert key(10 * ORDERS_PER_BUCKET + 3, partition=4) == placement.bucket_key(4, 10)


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
        memory, expected = track(memories.get(change.order_id), change, NOW_US)
        assert memory is not None
        memories[change.order_id] = memory
        tracked, _ = bucket.track(change, NOW_US)
        assert tracked == expected
        assert bucket.memory(change.order_id) == memory
    assert len(bucket) == len(memories)


def test_evict_idle_forgets_exactly_the_orders_idle_long_enough() -> None:
    idle = timedelta(minutes=10)
    bucket = OrderBucket()
    first, second = img("PENDING", 1, 0, order_id=1), img("PENDING", 1, 0, order_id=2)
    assert bucket.track(insert(first), NOW_US)[1] is True  # new to the bucket
    bucket.track(insert(second), micros(NOW + timedelta(minutes=1)))
    assert bucket.track(insert(first), NOW_US)[1] is False  # known order: not new
    assert bucket.evict_idle(NOW + idle - timedelta(microseconds=1), idle) == 0
    assert bucket.evict_idle(NOW + idle, idle) == 1
    assert bucket.memory(1) is None and bucket.memory(2) is not None
    assert bucket.evict_idle(NOW + idle + timedelta(minutes=1), idle) == 1
    assert len(bucket) == 0


def test_a_restored_bucket_remembers_status_entry_times() -> None:
    bucket = OrderBucket()
    pending, paid = img("PENDING", 1, 0), img("PAID", 2, 5)
    bucket.track(insert(pending), NOW_US)
    restored = OrderBucket.restore(pickle.loads(pickle.dumps(bucket.snapshot())), "t")
    tracked, _ = restored.track(update(pending, paid), NOW_US)
    assert tracked is not None and tracked.time_in_previous_status == timedelta(seconds=5)


def test_a_snapshot_of_the_per_order_layout_is_refused_by_name() -> None:
    old = OrderMemory(3, False, OrderStatus.PAID, NOW_US, NOW_US)
    with pytest.raises(RecoveryLayoutError, match="dedupe_by_order: .*older layout"):
        OrderBucket.restore(old, "dedupe_by_order")
    assert len(OrderBucket.restore(None, "dedupe_by_order")) == 0


def test_a_snapshot_of_buckets_keyed_without_their_partition_is_refused_by_name() -> None:
    bucket = OrderBucket()
    bucket.track(insert(img("PENDING", 1, 0)), NOW_US)
    snapshot = pickle.loads(pickle.dumps(bucket.snapshot()))
    assert OrderBucket.restore(snapshot, "dedupe_by_order").memory(1) is not None
    with pytest.raises(RecoveryLayoutError, match="without their partition.*reset-dataflow"):
        OrderBucket.restore(snapshot[1], "dedupe_by_order")  # what the last version stored


def test_a_snapshot_of_buckets_of_another_size_is_refused_by_name() -> None:
    # The first per-partition layout: buckets of 256 ids, tagged without their size. Resumed
    # as buckets of another size, its orders would sit under keys no change looks up.
    memories = {1: pack(OrderMemory(3, False, OrderStatus.PAID, NOW_US, NOW_US))}
    for tag in ("partition-buckets", "partition-buckets/256"):
        with pytest.raises(RecoveryLayoutError, match=f"'{tag}'.*reset-dataflow"):
            OrderBucket.restore((tag, memories), "dedupe_by_order")
    assert LAYOUT.endswith(f"/{ORDERS_PER_BUCKET}")  # the size is part of the tag
    assert OrderBucket.restore((LAYOUT, memories), "dedupe_by_order").memory(1) is not None
