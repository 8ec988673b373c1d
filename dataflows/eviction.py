"""When to ask the order buckets to forget idle orders, without one timer per order.

Pure: no bytewax, no confluent_kafka. Bytewax scans the pending timer of every key of a
stateful step at each activation of the step, so one ``notify_at`` per state key costs
time proportional to the number of keys kept, and the dataflow activates that step hundreds
of times per second under load. Instead, system time is cut into slots of ``idle / 64`` (at
least one second); every change notes its state key (the bucket of its order,
order_buckets.py) in the current slot (sharded over a few keys so that several workers share
the work), and once the slot is old enough that each order changed in it may have been idle
long enough, each of those buckets gets one :class:`IdleCheck`. The bucket then forgets
every order whose own ``last_seen`` is ``idle`` or more ago; an order changed since then was
noted in a later slot and is looked at again after that one. So an order is forgotten
between ``idle`` and ``idle + 2 slots`` after its last change, and the step keeps
``(64 + 2) * SHARDS`` timers in all.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dataflows.utc import EPOCH

SLOTS_PER_IDLE = 64
SHARDS = 8
MIN_SLOT = timedelta(seconds=1)


@dataclass(frozen=True)
class IdleCheck:
    """Asks an order's memory to drop itself if the order has been idle long enough."""


IDLE_CHECK = IdleCheck()


@dataclass(frozen=True)
class SweepSchedule:
    idle_after: timedelta

    @property
    def slot_length(self) -> timedelta:
        return max(self.idle_after / SLOTS_PER_IDLE, MIN_SLOT)

    def slot_of(self, now: datetime) -> int:
        return (now - EPOCH) // self.slot_length

    def slot_key(self, slot: int, state_key: str) -> str:
        """The sweep key of ``state_key`` in ``slot``: ``<slot>|<shard>``."""
        return _sweep_key(slot, _shard(state_key))

    def entries(
        self, slot: int, state_keys: Iterable[str]
    ) -> list[tuple[str, tuple[int, tuple[str, ...]]]]:
        """``state_keys`` noted in ``slot``, each once, grouped by sweep key: one item per
        shard (a batch of changes costs a few items, not one per change)."""
        shards: dict[int, list[str]] = {}
        for key in dict.fromkeys(state_keys):
            shards.setdefault(_shard(key), []).append(key)
        return [(_sweep_key(slot, shard), (slot, tuple(keys))) for shard, keys in shards.items()]

    def check_at(self, slot: int) -> datetime:
        """When every order changed in ``slot`` may have been idle for ``idle_after``.

        An order changed in slot s was last seen before the end of slot s + 1 (one slot of
        slack for the time between noting it and its memory taking ``last_seen``)."""
        return EPOCH + (slot + 2) * self.slot_length + self.idle_after


def _sweep_key(slot: int, shard: int) -> str:
    return f"{slot}|{shard}"


def _shard(state_key: str) -> int:
    """A bucket key's shard, by its CRC-32 (stable across runs, unlike ``hash``)."""
    return zlib.crc32(state_key.encode()) % SHARDS
