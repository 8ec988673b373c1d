"""Builds Debezium change events and runs the orders flow on TestingSource/TestingSink."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from bytewax.testing import TestingSource, cluster_main, run_main

from dataflows.cdc import RawChange
from dataflows.clock import Clock, frozen_clock
from dataflows.orders import Sinks, build_flow
from dataflows.records import OutRecord
from dataflows.settings import FlowConfig

TOPIC = "mysql-orders"
#: Fixed "system time" of the test runs (processed_at, failed_at).
NOW = datetime(2030, 1, 1, tzinfo=UTC)
NOW_ISO = "2030-01-01T00:00:00+00:00"
#: Start of the minute most test events happen in.
T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
CONFIG = FlowConfig(
    window_length=timedelta(seconds=60),
    allowed_lateness=timedelta(seconds=10),
    window_retention=timedelta(hours=1),
    order_state_idle=timedelta(hours=1),
)


def micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def row(
    order_id: int,
    status: str,
    amount: str,
    version: int,
    updated_at: datetime,
    *,
    currency: str = "USD",
    customer_id: int = 7,
    created_at: datetime = T0,
) -> dict[str, Any]:
    return {
        "id": order_id,
        "customer_id": customer_id,
        "status": status,
        "total_amount": amount,
        "currency": currency,
        "version": version,
        "created_at": micros(created_at),
        "updated_at": micros(updated_at),
    }


def envelope(
    op: str, before: dict[str, Any] | None, after: dict[str, Any] | None, ts_ms: int = 1_000
) -> dict[str, Any]:
    return {
        "before": before,
        "after": after,
        "source": {
            "version": "3.5.0.Final",
            "connector": "mariadb",
            "name": "orderstream",
            "ts_ms": ts_ms,
            "snapshot": "true" if op == "r" else "false",
            "db": "shop",
            "table": "orders",
            "server_id": 1,
            "file": "mariadb-bin.000001",
            "pos": 4000 + ts_ms,
            "row": 0,
        },
        "op": op,
        "ts_ms": ts_ms + 5,
        "transaction": None,
    }


@dataclass
class ChangeLog:
    """Records of one CDC partition, offsets assigned in order."""

    partition: int = 0
    records: list[RawChange] = field(default_factory=list)

    def add_value(self, key: bytes | None, value: bytes | None) -> RawChange:
        record = RawChange(TOPIC, self.partition, len(self.records), key, value)
        self.records.append(record)
        return record

    def add(self, event: dict[str, Any]) -> RawChange:
        image = event["after"] or event["before"]
        key = orjson.dumps({"id": image["id"]})
        return self.add_value(key, orjson.dumps(event))

    def insert(self, after: dict[str, Any], ts_ms: int = 1_000) -> RawChange:
        return self.add(envelope("c", None, after, ts_ms))

    def update(
        self, before: dict[str, Any], after: dict[str, Any], ts_ms: int = 1_000
    ) -> RawChange:
        return self.add(envelope("u", before, after, ts_ms))

    def delete(self, before: dict[str, Any], ts_ms: int = 1_000) -> RawChange:
        return self.add(envelope("d", before, None, ts_ms))

    def snapshot(self, after: dict[str, Any], ts_ms: int = 1_000) -> RawChange:
        return self.add(envelope("r", None, after, ts_ms))

    def tombstone(self, order_id: int) -> RawChange:
        return self.add_value(orjson.dumps({"id": order_id}), None)

    def redeliver(self, record: RawChange) -> RawChange:
        """The same change again at a new offset (connector restart, replay)."""
        return self.add_value(record.key, record.value)


@dataclass(frozen=True)
class Outputs:
    processed: list[tuple[str, Any]]
    revenue: list[tuple[str, Any]]
    transitions: list[tuple[str, Any]]
    dead_letters: list[tuple[str, Any]]


def _decode(records: list[OutRecord]) -> list[tuple[str, Any]]:
    return [(record.key, orjson.loads(record.value)) for record in records]


def run_flow(
    records: list[RawChange],
    workers: int,
    config: FlowConfig = CONFIG,
    clock: Clock | None = None,
) -> Outputs:
    """Run the flow over ``records`` (one item per epoch, so the order across steps is
    deterministic) with 1 or more workers; each output list is sorted by key, stably.
    ``clock``: the flow's system time, frozen at ``NOW`` unless given."""
    processed: list[OutRecord] = []
    revenue: list[OutRecord] = []
    transitions: list[OutRecord] = []
    dead_letters: list[OutRecord] = []
    from bytewax.testing import TestingSink

    flow = build_flow(
        TestingSource(records),
        Sinks(
            TestingSink(processed),
            TestingSink(revenue),
            TestingSink(transitions),
            TestingSink(dead_letters),
        ),
        config,
        frozen_clock(NOW) if clock is None else clock,
    )
    if workers == 1:
        run_main(flow, epoch_interval=timedelta(0))  # type: ignore[no-untyped-call]
    else:
        cluster_main(flow, [], 0, epoch_interval=timedelta(0), worker_count_per_proc=workers)  # type: ignore[no-untyped-call]

    def by_key(records: list[OutRecord]) -> list[tuple[str, Any]]:
        # Per key, records keep their order (each key is written by one worker).
        return sorted(_decode(records), key=lambda kv: kv[0])

    return Outputs(by_key(processed), by_key(revenue), by_key(transitions), by_key(dead_letters))
