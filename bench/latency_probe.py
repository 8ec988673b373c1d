"""The latency probe: orders committed on a fixed schedule, and their arrival on the topics.

Everything runs in one process on one clock (``time.time()``): the probe writes an order as
the application does (the order row and its ``order_status_history`` row in one transaction,
``updated_at`` = the server's ``UTC_TIMESTAMP(6)``) and notes when the commit returned; one
consumer per topic notes when each probe order's record arrives. Probe orders use ids far
above the loadgen's range, are inserted as ``PENDING`` (they count toward no revenue and no
transition) and are deleted at the end.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pymysql
from confluent_kafka import Consumer, KafkaException, TopicPartition

from orderstream.settings import Settings

#: Probe ids: a random block far above the loadgen's (< 10**12) and the tests' ranges.
PROBE_ID_BASE = 5_000_000_000_000


def probe_ids(count: int) -> list[int]:
    base = PROBE_ID_BASE + random.randrange(10**11) * 100
    return [base + i for i in range(count)]


@dataclass
class Arrivals:
    """Arrival time per probe order id on one topic (first arrival wins)."""

    topic: str
    at: dict[int, float] = field(default_factory=dict)
    records: int = 0  # all records read, probe or not


class TopicTail:
    """A consumer thread on every partition of ``topic`` from its current end, noting the
    arrival time of records whose order id is in ``wanted``."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        wanted: set[int],
        order_id: Callable[[bytes | None], int | None],
    ) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": settings.bootstrap_servers,
                "group.id": f"orderstream-latency-bench-{uuid.uuid4()}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 100,
            }
        )
        meta = self._consumer.list_topics(topic, timeout=10)
        if topic not in meta.topics or meta.topics[topic].error is not None:
            raise SystemExit(f"bench.latency: topic {topic!r} does not exist; is the stack up?")
        assignment = []
        for p in sorted(meta.topics[topic].partitions):
            _, high = self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            assignment.append(TopicPartition(topic, p, high))
        self._consumer.assign(assignment)
        self._wanted = wanted
        self._order_id = order_id
        self._stop = threading.Event()
        self.arrivals = Arrivals(topic)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"tail-{topic}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._consumer.close()

    def _run(self) -> None:
        at = self.arrivals.at
        try:
            while not self._stop.is_set():
                # poll() returns as soon as one record is there; consume(n, timeout) would
                # wait for n records or the whole timeout and stamp arrivals late.
                message = self._consumer.poll(0.05)
                if message is None:
                    continue
                now = time.time()
                if message.error() is not None:
                    raise KafkaException(message.error())
                self.arrivals.records += 1
                oid = self._order_id(message.key())
                if oid is not None and oid in self._wanted and oid not in at:
                    at[oid] = now
        except BaseException as exc:  # reported by the caller
            self.error = exc


def cdc_key_id(key: bytes | None) -> int | None:
    """Debezium's key ``{"id": 42}``."""
    if not key:
        return None
    try:
        value = orjson.loads(key)
    except orjson.JSONDecodeError:
        return None
    return value.get("id") if isinstance(value, dict) else None


def processed_key_id(key: bytes | None) -> int | None:
    """processed-orders' key ``"42"``."""
    if not key or not key.isdigit():
        return None
    return int(key)


def connect_db(settings: Settings) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(
        host=settings.host,
        port=settings.db_port,
        user=settings.db_app_user,
        password=settings.db_app_password,
        database=settings.db_name,
        autocommit=False,
    )


class Prober:
    """Commits one probe order every ``interval`` seconds (on a fixed schedule, not after
    the previous one) and notes when each commit returned."""

    def __init__(self, settings: Settings, ids: list[int], interval: float) -> None:
        self._conn = connect_db(settings)
        self._ids = ids
        self._interval = interval
        self.committed_at: dict[int, float] = {}
        self.late_starts = 0  # probes that started more than one interval behind schedule

    def run(self, stop: threading.Event) -> None:
        start = time.monotonic()
        for i, order_id in enumerate(self._ids):
            due = start + i * self._interval
            delay = due - time.monotonic()
            if delay > 0 and stop.wait(delay):
                return
            if delay < -self._interval:
                self.late_starts += 1
            self._insert(order_id)
            self.committed_at[order_id] = time.time()

    def _insert(self, order_id: int) -> None:
        with self._conn.cursor() as cur:
            cur.execute("SET @now = UTC_TIMESTAMP(6)")
            cur.execute(
                "INSERT INTO orders (id, customer_id, status, total_amount, currency, version,"
                " created_at, updated_at) VALUES (%s, 1, 'PENDING', '1.00', 'EUR', 1, @now, @now)",
                (order_id,),
            )
            cur.execute(
                "INSERT INTO order_status_history (order_id, from_status, to_status,"
                " previous_amount, amount, changed_at)"
                " VALUES (%s, NULL, 'PENDING', NULL, '1.00', @now)",
                (order_id,),
            )
        self._conn.commit()

    def delete_probes(self) -> None:
        ids = list(self.committed_at)
        with self._conn.cursor() as cur:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                cur.execute("DELETE FROM order_status_history WHERE order_id IN %s", (chunk,))
                cur.execute("DELETE FROM orders WHERE id IN %s", (chunk,))
        self._conn.commit()

    def close(self) -> None:
        self._conn.close()
