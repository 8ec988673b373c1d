"""Planner changes -> Debezium change envelopes as the MariaDB connector writes them. Pure.

The envelope mirrors what Debezium 3.5 (``connector=mariadb``, JSON without schemas,
``decimal.handling.mode=string``) puts on ``mysql-orders``: key ``{"id": <id>}``, value with
``before``/``after``/``source``/``transaction``/``op``/``ts_ms``/``ts_us``/``ts_ns`` in that
order, ``DATETIME(6)`` columns as epoch microseconds, money as strings with two decimals, and
the ``__debezium.context.*`` headers. Event time (``updated_at``) is ``base + change.at``.

Duplicates are modelled as Kafka Connect restarts: the connector resumes from its last
committed offset and delivers the tail since then again, byte for byte.
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from orderstream.loadgen.planner import ChangeKind, PlanConfig, PlannedChange, plan

#: Event time of the first change; every run with the same seed produces the same bytes.
BASE_TIME = datetime(2026, 11, 25, tzinfo=UTC)
#: Changes per second of event time in the planner: high enough that 1M changes span minutes.
PLAN_RATE = 2000.0
FIRST_ORDER_ID = 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

DEBEZIUM_VERSION = "3.5.0.Final"
SERVER_NAME = "orderstream"
#: Bytes one order change takes in the binlog (row event + GTID + XID), as on the real stack.
BINLOG_BYTES_PER_CHANGE = 833
BINLOG_FIRST_POSITION = 389
BINLOG_FILE_BYTES = 1 << 30
#: The transaction commits this long after the row's updated_at was taken.
COMMIT_DELAY_US = 1_500
#: Connect emits the event this long after the commit (plus a deterministic jitter).
CONNECTOR_DELAY_US = 150_000
CONNECTOR_JITTER_US = 100_000

HEADERS: list[tuple[str, bytes]] = [
    ("__debezium.context.connectorLogicalName", SERVER_NAME.encode()),
    ("__debezium.context.taskId", b"0"),
    ("__debezium.context.connectorName", b"mariadb"),
    ("__debezium.context.runId", b"01a21036-0aaf-7705-ac69-28873a5f6445"),
]

#: Mean number of events a Connect restart delivers again.
MEAN_REDELIVERY_BLOCK = 1000


@dataclass(frozen=True)
class CdcRecord:
    """One record for the CDC topic."""

    key: bytes
    value: bytes


def planned_changes(count: int, seed: int, rate: float = PLAN_RATE) -> Iterator[PlannedChange]:
    """The first ``count`` changes of the seeded order-lifecycle plan (``rate`` per second)."""
    return itertools.islice(plan(PlanConfig(rate=rate, duration=None, seed=seed)), count)


def event_time_us(change: PlannedChange, base: datetime = BASE_TIME) -> int:
    """``updated_at`` of the row after ``change``, in epoch microseconds."""
    return epoch_us(base) + round(change.at * 1_000_000)


def epoch_us(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def order_id(change: PlannedChange) -> int:
    return FIRST_ORDER_ID + change.order


def money(amount: Any) -> str:
    """``DECIMAL(12,2)`` as Debezium's string mode sends it: always two decimals."""
    return f"{amount:.2f}"


class EnvelopeBuilder:
    """Turns planned changes, in plan order, into envelopes; remembers each live order's row."""

    def __init__(self, base: datetime = BASE_TIME) -> None:
        self._base = base
        self._rows: dict[int, dict[str, Any]] = {}

    def build(self, change: PlannedChange) -> CdcRecord:
        before = None if change.kind is ChangeKind.INSERT else self._rows[change.order]
        after = self._row_after(change, before)
        if change.final:
            self._rows.pop(change.order, None)
        else:
            self._rows[change.order] = after
        envelope = envelope_value(change.seq, before, after, after["updated_at"])
        key = orjson.dumps({"id": after["id"]})
        return CdcRecord(key=key, value=orjson.dumps(envelope))

    def _row_after(self, change: PlannedChange, before: dict[str, Any] | None) -> dict[str, Any]:
        updated_at = event_time_us(change, self._base)
        if before is None:
            assert change.customer is not None and change.currency is not None
            return {
                "id": order_id(change),
                "customer_id": change.customer + 1,
                "status": str(change.to_status),
                "total_amount": money(change.amount),
                "currency": change.currency,
                "version": change.version,
                "created_at": updated_at,
                "updated_at": updated_at,
            }
        return {
            **before,
            "status": str(change.to_status),
            "total_amount": money(change.amount),
            "version": change.version,
            "updated_at": updated_at,
        }


def envelope_value(
    seq: int, before: dict[str, Any] | None, after: dict[str, Any], updated_at_us: int
) -> dict[str, Any]:
    """The change event of binlog event number ``seq`` (an insert when ``before`` is None)."""
    commit_us = updated_at_us + COMMIT_DELAY_US
    emitted_us = commit_us + CONNECTOR_DELAY_US + (seq * 7919) % CONNECTOR_JITTER_US
    return {
        "before": before,
        "after": after,
        "source": source_block(seq, commit_us),
        "transaction": None,
        "op": "c" if before is None else "u",
        "ts_ms": emitted_us // 1000,
        "ts_us": emitted_us,
        "ts_ns": emitted_us * 1000,
    }


def source_block(seq: int, commit_us: int) -> dict[str, Any]:
    commit_ms = commit_us // 1_000_000 * 1000  # binlog event timestamps have whole seconds
    position = BINLOG_FIRST_POSITION + seq * BINLOG_BYTES_PER_CHANGE
    return {
        "version": DEBEZIUM_VERSION,
        "connector": "mariadb",
        "name": SERVER_NAME,
        "ts_ms": commit_ms,
        "snapshot": "false",
        "db": "shop",
        "sequence": None,
        "ts_us": commit_ms * 1000,
        "ts_ns": commit_ms * 1_000_000,
        "table": "orders",
        "server_id": 1,
        "gtid": f"0-1-{seq + 1}",
        "file": f"mariadb-bin.{1 + position // BINLOG_FILE_BYTES:06d}",
        "pos": position % BINLOG_FILE_BYTES,
        "row": 0,
        "thread": None,
        "query": None,
    }


# --- duplicates: Connect restarts ---------------------------------------------------------


def redelivery_plan(count: int, fraction: float, seed: int) -> dict[int, int]:
    """Where restarts happen: {records delivered so far: how many of them come again}.

    About ``fraction * count`` duplicates in blocks of ``MEAN_REDELIVERY_BLOCK`` on average.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"duplicate fraction must be within [0, 1], got {fraction}")
    duplicates = min(count, round(count * fraction))
    if duplicates == 0:
        return {}
    rng = random.Random(f"bench-redeliveries-{seed}")
    restarts = max(1, round(duplicates / MEAN_REDELIVERY_BLOCK))
    cuts = sorted(rng.sample(range(1, duplicates), restarts - 1)) if restarts > 1 else []
    sizes = [end - start for start, end in itertools.pairwise([0, *cuts, duplicates])]
    positions = sorted(rng.sample(range(max(sizes), count + 1), restarts))
    rng.shuffle(sizes)
    return dict(zip(positions, sizes, strict=True))


def with_redeliveries(records: Iterable[CdcRecord], plan: Mapping[int, int]) -> Iterator[CdcRecord]:
    """``records`` with the tails of ``plan`` delivered again at its restart points."""
    recent: deque[CdcRecord] = deque(maxlen=max(plan.values(), default=0))
    for delivered, record in enumerate(records, start=1):
        yield record
        recent.append(record)
        block = plan.get(delivered, 0)
        if block:
            yield from itertools.islice(recent, len(recent) - block, None)
