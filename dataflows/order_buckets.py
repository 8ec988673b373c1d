"""Per-order memories kept in buckets of consecutive order ids, in a compact encoding.

Pure: no bytewax, no confluent_kafka. Bytewax snapshots every state key changed in a
recovery epoch (a Python call, a pickle and an SQLite row each) and each commit's clean-up
scans every stored row, while the worker reads no input (docs/dataflow.md, Latency). One
key per order made both grow with orders: thousands of rows written per epoch, and one row
per order kept. Here the dataflow keys its per-order state by bucket, ``order_id //
ORDERS_PER_BUCKET``: a shop's order ids grow with time and an order changes mostly in the
hours after it was placed, so the changes of an epoch fall into the few newest buckets, and
the store holds one row per bucket. Each order's :class:`~dataflows.dedupe.OrderMemory` is
held as a tuple of integers (:data:`Packed`), so a bucket's snapshot is one small pickle.

The rules stay in :func:`dataflows.dedupe.track`, applied per order exactly as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from dataflows import dedupe, placement
from dataflows.cdc import OrderChange
from dataflows.dedupe import OrderMemory, TrackedChange
from dataflows.settings import RESET_COMMAND
from dataflows.utc import micros
from orderstream.contract import OrderStatus

#: Order ids per bucket. A bucket is kept per input partition (placement.py), so with the CDC
#: topic's 6 partitions a state key holds about 256 orders: 256 ids per bucket split over 6
#: keys made 6 times the recovery rows and ~6x the commit's clean-up scan
#: (``bench.epoch_stall``). Part of the recovery layout (:data:`LAYOUT`): changing it needs
#: a reset of the recovery directory (docs/dataflow.md, Recovery).
ORDERS_PER_BUCKET = 1536

_STATUSES: tuple[OrderStatus, ...] = tuple(OrderStatus)
_STATUS_INDEX = {status: index for index, status in enumerate(_STATUSES)}
_UNKNOWN = -1
#: ``(version, deleted, status index, status_since µs or -1, last_seen µs)``; times in
#: microseconds since the Unix epoch, UTC.
Packed = tuple[int, bool, int, int, int]
#: A bucket's memories: order id -> packed memory.
BucketState = dict[int, Packed]
#: What a bucket snapshots: the layout (:data:`LAYOUT`) and its memories. Plain dicts were
#: the layout of buckets keyed without their partition, which this version cannot resume.
BucketSnapshot = tuple[str, BucketState]
#: Buckets of :data:`ORDERS_PER_BUCKET` ids keyed per input partition (placement.py). A
#: snapshot of buckets of another size would put orders under keys no change looks up.
LAYOUT = f"partition-buckets/{ORDERS_PER_BUCKET}"


class RecoveryLayoutError(RuntimeError):
    """The recovery directory holds per-order state in a layout this version cannot read."""


def bucket_key(change: OrderChange) -> str:
    """The state key of the bucket that holds ``change``'s order: one per input partition,
    kept on the worker that reads it (:func:`dataflows.placement.bucket_key`)."""
    return placement.bucket_key(change.raw.partition, change.image.order_id // ORDERS_PER_BUCKET)


def pack(memory: OrderMemory) -> Packed:
    since = memory.status_since_us
    return (
        memory.version,
        memory.deleted,
        _STATUS_INDEX[memory.status],
        _UNKNOWN if since is None else since,
        memory.last_seen_us,
    )


def unpack(packed: Packed) -> OrderMemory:
    version, deleted, status, since, last_seen = packed
    return OrderMemory(
        version, deleted, _STATUSES[status], None if since == _UNKNOWN else since, last_seen
    )


class OrderBucket:
    """The memories of the orders of one bucket, by order id."""

    def __init__(self, state: Mapping[int, Packed] | None = None) -> None:
        self._orders: BucketState = {} if state is None else dict(state)

    @classmethod
    def restore(cls, state: object, step_id: str) -> OrderBucket:
        """A bucket from a snapshot; a snapshot of an older layout raises
        :class:`RecoveryLayoutError` with what to do."""
        if state is None:
            return cls(None)
        if isinstance(state, tuple) and len(state) == 2 and state[0] == LAYOUT:
            return cls(state[1])
        older = _layout_of(state)
        raise RecoveryLayoutError(
            f"{step_id}: the recovery directory holds per-order state of an older layout "
            f"({older}); this version keeps orders in buckets of {ORDERS_PER_BUCKET} ids per "
            f"input partition ({LAYOUT!r}) and cannot resume from it. Reset the recovery "
            f"directory (`{RESET_COMMAND}`, docs/dataflow.md, Recovery) and start again"
        )

    def __len__(self) -> int:
        return len(self._orders)

    def memory(self, order_id: int) -> OrderMemory | None:
        packed = self._orders.get(order_id)
        return None if packed is None else unpack(packed)

    def track(self, change: OrderChange, now_us: int) -> tuple[TrackedChange | None, bool]:
        """Apply ``change`` to its order's memory (:func:`dataflows.dedupe.track`);
        ``now_us``: system time in microseconds since the epoch.

        Returns the tracked change (None for a duplicate) and whether the order is new to
        the bucket."""
        order_id = change.image.order_id
        packed = self._orders.get(order_id)
        if packed is not None and dedupe.is_duplicate(change, packed[0], packed[1]):
            if now_us > packed[4]:  # seen now (dedupe.track's rule, without unpacking)
                self._orders[order_id] = (*packed[:4], now_us)
            return None, False
        memory, tracked = dedupe.track(None if packed is None else unpack(packed), change, now_us)
        assert memory is not None  # track always remembers the change it was given
        self._orders[order_id] = pack(memory)
        return tracked, packed is None

    def evict_idle(self, now: datetime, idle_after: timedelta) -> int:
        """Forget every order idle for ``idle_after``; returns how many were forgotten."""
        oldest_kept = micros(now - idle_after)
        idle = [order for order, packed in self._orders.items() if packed[4] <= oldest_kept]
        for order in idle:
            del self._orders[order]
        return len(idle)

    def snapshot(self) -> BucketSnapshot:
        """A copy (tuples are immutable), so later changes cannot leak into a snapshot."""
        return (LAYOUT, dict(self._orders))


def _layout_of(state: object) -> str:
    """What an unreadable bucket snapshot is, for the error message."""
    if isinstance(state, dict):
        return "buckets keyed without their partition"
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], str):
        return repr(state[0])  # "partition-buckets": buckets of 256 ids, before sizes were named
    return f"{type(state).__name__}, one key per order"
