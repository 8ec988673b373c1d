"""Aware UTC datetimes and microseconds since the Unix epoch, both ways.

Pure: no bytewax, no confluent_kafka. Debezium writes ``DATETIME(6)`` columns as epoch
microseconds, and per-order state keeps its times in them (order_buckets.py).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch."""
    return (moment - EPOCH) // MICROSECOND


#: Building a datetime costs about 1 µs; the same instants recur within a change (``before``
#: and ``after`` share ``created_at``) and within a batch (one ``now`` for a group), so
#: recent ones are reused. Raises OverflowError outside datetime's range.
@functools.lru_cache(maxsize=4096)
def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(0, 0, value)  # positional: faster
