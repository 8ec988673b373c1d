"""Helpers of the reconcile integration tests: hand-written histories written the way the
application writes them, per-test topics, the dataflow's record formats, running the CLI."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from orderstream.reconcile.model import (
    Revenue,
    RevenueKey,
    TransitionKey,
    Transitions,
    iso,
)
from orderstream.settings import Settings

Conn = Any
D = Decimal
W = 60  # the hand-computed windows are one minute long


@dataclass(frozen=True)
class Step:
    order: int  # index into the scenario's orders
    at: float  # seconds after the scenario's start
    to: str
    amount: str




@dataclass
class Scenario:
    start: datetime  # aware UTC, hour-aligned: the first window
    ids: dict[int, int]  # scenario order index -> order id
    versions: dict[int, int]  # order id -> final version

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=1)


def free_hour_2001(db: Conn) -> datetime:
    with db.cursor() as cur:
        for _ in range(50):
            start = datetime(2001, 1, 1) + timedelta(hours=random.randrange(365 * 24))
            cur.execute(
                "SELECT (SELECT COUNT(*) FROM order_status_history WHERE changed_at >= %s"
                " AND changed_at < %s) + (SELECT COUNT(*) FROM orders WHERE updated_at >= %s"
                " AND updated_at < %s)",
                (start, start + timedelta(hours=1)) * 2,
            )
            if cur.fetchone()[0] == 0:
                return start
    raise AssertionError("no free hour in 2001")


def free_ids(db: Conn, n: int) -> list[int]:
    with db.cursor() as cur:
        for _ in range(20):
            base = 6_000_000_000_000 + random.randrange(10**9) * 1000
            cur.execute("SELECT COUNT(*) FROM orders WHERE id >= %s AND id < %s", (base, base + n))
            if cur.fetchone()[0] == 0:
                return list(range(base, base + n))
    raise AssertionError("no free id range")


def write_history(
    db: Conn, start: datetime, steps: list[Step], currencies: dict[int, str], ids: dict[int, int]
) -> dict[int, int]:
    """Apply ``steps`` as the application would: one transaction per change. Returns the
    final version per order id."""
    state: dict[int, tuple[str, Decimal, int]] = {}
    for step in sorted(steps, key=lambda s: s.at):
        at = start + timedelta(seconds=step.at)
        order_id, amount = ids[step.order], D(step.amount)
        db.begin()
        with db.cursor() as cur:
            if order_id not in state:
                cur.execute(
                    "INSERT INTO orders (id, customer_id, status, total_amount, currency, version,"
                    " created_at, updated_at) VALUES (%s, 1, %s, %s, %s, 1, %s, %s)",
                    (order_id, step.to, amount, currencies[step.order], at, at),
                )
                before: tuple[str | None, Decimal | None] = (None, None)
                version = 1
            else:
                status, previous, version = state[order_id]
                version += 1
                cur.execute(
                    "UPDATE orders SET status = %s, total_amount = %s, version = %s,"
                    " updated_at = %s WHERE id = %s AND version = %s",
                    (step.to, amount, version, at, order_id, version - 1),
                )
                before = (status, previous)
            cur.execute(
                "INSERT INTO order_status_history (order_id, from_status, to_status,"
                " previous_amount, amount, changed_at) VALUES (%s, %s, %s, %s, %s, %s)",
                (order_id, before[0], step.to, before[1], amount, at),
            )
        db.commit()
        state[order_id] = (step.to, amount, version)
    return {order_id: v for order_id, (_, _, v) in state.items()}




@dataclass
class Topics:
    revenue: str
    transitions: str
    processed: str

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "ORDERSTREAM_TOPIC_REVENUE": self.revenue,
            "ORDERSTREAM_TOPIC_TRANSITIONS": self.transitions,
            "ORDERSTREAM_TOPIC_PROCESSED": self.processed,
            "ORDERSTREAM_WINDOW_SECONDS": str(W),
            "ORDERSTREAM_ALLOWED_LATENESS_SECONDS": "10",
        }




def revenue_record(key: RevenueKey, r: Revenue, revision: int = 1) -> tuple[bytes, bytes]:
    start, currency = key
    value = {
        "window_start": iso(start),
        "window_end": iso(start + timedelta(seconds=W)),
        "currency": currency,
        "gross": f"{r.gross:.2f}",
        "refunds": f"{r.refunds:.2f}",
        "adjustments": f"{r.adjustments:.2f}",
        "net": f"{r.net:.2f}",
        "paid_count": r.paid_count,
        "refund_count": r.refund_count,
        "revision": revision,
    }
    return f"{iso(start)}|{currency}".encode(), orjson.dumps(value)


def transition_record(key: TransitionKey, t: Transitions, revision: int = 1) -> tuple[bytes, bytes]:
    start, f, to = key

    def num(d: Decimal | None) -> float | None:
        return None if d is None else float(d)

    value = {
        "window_start": iso(start),
        "window_end": iso(start + timedelta(seconds=W)),
        "from_status": f,
        "to_status": to,
        "count": t.count,
        "timed_count": t.timed_count,
        "untimed_count": t.untimed_count,
        "p50_seconds": num(t.p50_seconds),
        "p95_seconds": num(t.p95_seconds),
        "max_seconds": num(t.max_seconds),
        "revision": revision,
    }
    return f"{iso(start)}|{f}|{to}".encode(), orjson.dumps(value)


def processed_record(order_id: int, version: int) -> tuple[bytes, bytes]:
    return str(order_id).encode(), orjson.dumps({"order_id": order_id, "version": version})


def produce(settings: Settings, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = Producer(
        {"bootstrap.servers": settings.bootstrap_servers, "acks": "all", "enable.idempotence": True}
    )
    errors: list[str] = []

    def report(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    for key, value in records:
        producer.produce(topic, key=key, value=value, on_delivery=report)
    assert producer.flush(30) == 0 and not errors, errors




def reconcile(
    topics: Topics | None, scenario: Scenario, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the reconcile CLI over the scenario's hour, against ``topics`` unless ``env`` says."""
    if env is None:
        assert topics is not None, "reconcile() needs topics or an env"
        env = topics.env()
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "orderstream.reconcile",
            "--from",
            iso(scenario.start),
            "--to",
            iso(scenario.end),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def diff_rows(stdout: str) -> list[list[str]]:
    lines = stdout.splitlines()
    if not any(line.startswith("MISMATCHES") for line in lines):
        return []
    start = next(i for i, line in enumerate(lines) if line.startswith("MISMATCHES")) + 2
    return [line.split() for line in lines[start:] if line.startswith("  ")]



@contextmanager
def written_history(
    db: Conn, steps: list[Step], currencies: dict[int, str]
) -> Iterator[Scenario]:
    """``steps`` written into a free hour of 2001 with free order ids; removed afterwards."""
    start = free_hour_2001(db)
    ids = dict(enumerate(free_ids(db, len(currencies))))
    versions = write_history(db, start, steps, currencies, ids)
    try:
        yield Scenario(start.replace(tzinfo=UTC), ids, versions)
    finally:
        # The live dataflow sees these 2001 changes too and dead-letters them as expired; with
        # the rows gone the ground truth agrees again, so a later full `reconcile` stays clean.
        with db.cursor() as cur:
            order_ids = list(ids.values())
            cur.execute("DELETE FROM order_status_history WHERE order_id IN %s", (order_ids,))
            cur.execute("DELETE FROM orders WHERE id IN %s", (order_ids,))


@contextmanager
def per_test_topics(admin: AdminClient) -> Iterator[Topics]:
    """Fresh compacted revenue, transitions and processed topics (RF 3), deleted afterwards."""
    tag = uuid.uuid4().hex[:10]
    names = Topics(f"test-rev-{tag}", f"test-trans-{tag}", f"test-proc-{tag}")
    config = {"cleanup.policy": "compact", "min.insync.replicas": "2"}
    new = [
        NewTopic(names.revenue, 3, 3, config=config),
        NewTopic(names.transitions, 3, 3, config=config),
        NewTopic(names.processed, 6, 3, config=config),
    ]
    for future in admin.create_topics(new, operation_timeout=30).values():
        future.result()
    try:
        yield names
    finally:
        for future in admin.delete_topics(
            [names.revenue, names.transitions, names.processed], operation_timeout=30
        ).values():
            future.result()
