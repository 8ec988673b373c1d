"""Fixtures for tests against the live native stack that scripts/test.sh starts.

The stack must be healthy before any integration test runs: a sick stack fails the session
with `orderstream status`'s report instead of producing confusing downstream failures.
"""

from __future__ import annotations

import contextlib
import random
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pymysql
import pytest
from confluent_kafka import OFFSET_END, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import orderstream.db
import orderstream.poll
from orderstream.settings import Settings
from orderstream.stack.components.connector import cdc_connector_spec
from orderstream.stack.health import check_all, format_report
from orderstream.stack.kafka_admin import admin_client
from orderstream.stack.layout import Layout
from orderstream.stack.supervisor import Supervisor


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture(scope="session", autouse=True)
def healthy_stack(settings: Settings) -> None:
    checks = check_all(settings)
    if not all(c.healthy for c in checks):
        pytest.fail("the native stack is not healthy:\n" + format_report(checks), pytrace=False)


@pytest.fixture(scope="session")
def supervisor(settings: Settings) -> Supervisor:
    return Supervisor(Layout(settings.runtime_dir).supervisor_socket)


@pytest.fixture(scope="session")
def admin(settings: Settings) -> AdminClient:
    return admin_client(settings)


@pytest.fixture
def db(settings: Settings) -> Iterator[pymysql.connections.Connection[Any]]:
    conn = orderstream.db.connect(settings.database, autocommit=True)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def cdc_connector(settings: Settings) -> str:
    """The CDC connector's name, from its file (connectors/orders-cdc.json)."""
    return cdc_connector_spec(Layout(settings.runtime_dir)).name


def poll_until(what: str, check: Callable[[], bool], timeout: float, interval: float = 0.5) -> None:
    """Wait for ``check`` to hold, polling; fail with ``what`` after ``timeout`` seconds."""
    try:
        orderstream.poll.until(what, check, timeout, interval)
    except orderstream.poll.WaitTimeout as exc:
        raise AssertionError(str(exc)) from None


def free_ports(n: int) -> list[int]:
    """``n`` distinct loopback ports that were free a moment ago."""
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def free_consecutive_ports(n: int) -> int:
    """The first of ``n`` consecutive free loopback ports."""
    for _ in range(50):
        first = free_ports(1)[0]
        with contextlib.ExitStack() as stack:
            try:
                for port in range(first, first + n):
                    s = stack.enter_context(socket.socket())
                    s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return first
    raise AssertionError(f"no {n} consecutive free ports")


def unique_order_ids(n: int) -> list[int]:
    """Order ids far above anything the loadgen writes, unique per test."""
    base = 8_000_000_000_000 + random.randrange(10**12)
    return [base + i for i in range(n)]


def insert_order(
    db: pymysql.connections.Connection[Any], order_id: int, status: str = "PENDING"
) -> None:
    """Insert an order as the application does: its history row in the same transaction."""
    db.begin()
    with db.cursor() as cur:
        cur.execute("SET @now = UTC_TIMESTAMP(6)")
        cur.execute(
            "INSERT INTO orders (id, customer_id, status, total_amount, currency, version,"
            " created_at, updated_at) VALUES (%s, 1, %s, '19.99', 'EUR', 1, @now, @now)",
            (order_id, status),
        )
        cur.execute(
            "INSERT INTO order_status_history (order_id, from_status, to_status,"
            " previous_amount, amount, changed_at) VALUES (%s, NULL, %s, NULL, '19.99', @now)",
            (order_id, status),
        )
    db.commit()


def change_status(db: pymysql.connections.Connection[Any], order_id: int, to_status: str) -> None:
    """Change an order's status as the application does: version + 1, history row."""
    db.begin()
    with db.cursor() as cur:
        cur.execute("SET @now = UTC_TIMESTAMP(6)")
        cur.execute("SELECT status, total_amount FROM orders WHERE id = %s FOR UPDATE", (order_id,))
        row = cur.fetchone()
        assert row is not None, f"order {order_id} does not exist"
        cur.execute(
            "UPDATE orders SET status = %s, version = version + 1, updated_at = @now WHERE id = %s",
            (to_status, order_id),
        )
        cur.execute(
            "INSERT INTO order_status_history (order_id, from_status, to_status,"
            " previous_amount, amount, changed_at) VALUES (%s, %s, %s, %s, %s, @now)",
            (order_id, row[0], to_status, row[1], row[1]),
        )
    db.commit()


def _decode_key(raw: bytes | None) -> Any:
    """Debezium keys are JSON objects; the dataflow's keys are plain strings."""
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode()


@dataclass
class CdcEvent:
    key: Any
    value: dict[str, Any] | None
    partition: int
    offset: int

    @property
    def order_id(self) -> int:
        return int(self.key["id"])


class TopicTail:
    """Reads a topic from the offsets it had when created: sees only what comes after."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.consumer = Consumer(
            {
                "bootstrap.servers": settings.bootstrap_servers,
                "group.id": f"orderstream-test-{uuid.uuid4()}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        meta = self.consumer.list_topics(topic, timeout=10)
        partitions = []
        for p in meta.topics[topic].partitions:
            _, high = self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            partitions.append(TopicPartition(topic, p, high if high >= 0 else OFFSET_END))
        self.consumer.assign(partitions)
        self.events: list[CdcEvent] = []

    def poll_for(
        self, what: str, done: Callable[[list[CdcEvent]], bool], timeout: float
    ) -> list[CdcEvent]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done(self.events):
                return self.events
            msg = self.consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            key = _decode_key(msg.key())
            value = orjson.loads(msg.value()) if msg.value() else None
            self.events.append(CdcEvent(key, value, msg.partition(), msg.offset()))
        if done(self.events):
            return self.events
        raise AssertionError(
            f"timed out after {timeout:.0f}s waiting for {what}; saw {len(self.events)} events"
        )

    def close(self) -> None:
        self.consumer.close()


@pytest.fixture
def cdc_tail(settings: Settings) -> Iterator[TopicTail]:
    tail = TopicTail(settings, settings.topic_cdc)
    yield tail
    tail.close()


def led(admin: AdminClient, topic: str) -> bool:
    """Whether the broker answering lists every partition of ``topic`` with a leader."""
    listed = admin.list_topics(topic, timeout=10).topics[topic]
    partitions = listed.partitions.values()
    return listed.error is None and bool(partitions) and all(p.leader >= 0 for p in partitions)


def broker_admins(settings: Settings) -> list[AdminClient]:
    """One client per broker, each asking only that broker."""
    return [
        AdminClient({"bootstrap.servers": address})
        for address in settings.bootstrap_servers.split(",")
    ]


@pytest.fixture
def scratch_topic(settings: Settings, admin: AdminClient) -> Iterator[str]:
    """A uniquely named topic, replicated 3x with min ISR 2, deleted after the test; known to
    every broker with a leader for each partition before the test starts (a consumer that
    asked a broker that did not know it yet once read nothing of what was written)."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    futures = admin.create_topics(
        [NewTopic(name, 3, 3, config={"min.insync.replicas": "2"})], operation_timeout=30
    )
    futures[name].result()
    brokers = broker_admins(settings)
    poll_until(
        "every broker to know the new topic",
        lambda: all(led(broker, name) for broker in brokers),
        timeout=30,
    )
    yield name
    admin.delete_topics([name], operation_timeout=30)


def kill_and_hold_down(supervisor: Supervisor, name: str, timeout: float = 60) -> None:
    """`kill -9` a supervised program and keep it down (supervisor would restart it)."""
    before = supervisor.program(name)
    assert before.running, f"{name} is not running before the kill: {before.state}"
    supervisor.signal(name, "KILL")

    def stopped_for_good() -> bool:
        state = supervisor.program(name)
        if state.state in {"STOPPED", "FATAL"}:
            return True
        if state.state == "RUNNING" and state.pid == before.pid:
            return False  # the kill has not been noticed yet
        # exited, or supervisor's auto-restart is under way: stop it so it stays down
        supervisor.stop(name, wait=True)
        return False

    poll_until(f"{name} to stay down after kill -9", stopped_for_good, timeout)


def start_program(supervisor: Supervisor, name: str) -> None:
    supervisor.start(name, wait=True)
