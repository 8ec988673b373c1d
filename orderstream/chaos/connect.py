"""Kafka Connect faults: kill -9 of the worker that runs the CDC task mid-transaction, a
purged binlog, a deleted schema-history topic."""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal

from orderstream import db
from orderstream.chaos.harness import Chaos
from orderstream.chaos.midstream import TopicWatch, TransactionRows
from orderstream.chaos.registry import Fault, scenario
from orderstream.poll import WaitTimeout, until
from orderstream.stack.components.connect_workers import WORKER_IDS, program_name
from orderstream.stack.components.connector import (
    SCHEMA_HISTORY_CONFIG,
    cdc_connector_spec,
    recover_history,
    resnapshot,
)
from orderstream.stack.connect import ConnectClient, ConnectError
from orderstream.stack.health import check_all
from orderstream.stack.kafka_admin import admin_client

BIG_TRANSACTION_ROWS = 10_000
#: Order ids from 10^12 up are left to tests and hand-written data (loadgen stays below).
FIRST_TEST_ID = 10**12


def task_worker(chaos: Chaos) -> str:
    """The supervisor program of the Connect worker that runs the CDC task."""
    name = cdc_connector_spec(chaos.ctx.layout).name
    for url in chaos.settings.connect_urls:
        try:
            status = ConnectClient(url).status(name)
        except ConnectError:
            continue
        if status is not None and status.tasks:
            port = int(status.tasks[0][2].rsplit(":", 1)[1])
            index = chaos.settings.connect_ports.index(port)
            return program_name(WORKER_IDS[index])
    raise RuntimeError(f"no Connect worker reports a task of connector {name}")


def big_transaction(chaos: Chaos, rows: int, first_id: int) -> None:
    """One transaction of ``rows`` new PENDING orders, each with its history row (the
    ground truth reconcile reads), as the application would write them."""
    conn = db.connect(chaos.settings.database)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM customers ORDER BY id LIMIT 1")
            customer = cur.fetchone()
            customer_id = int(customer[0]) if customer else 1
            cur.execute("SELECT UTC_TIMESTAMP(6)")
            now = cur.fetchone()[0]  # type: ignore[index]
            amount = Decimal("12.34")
            ids = range(first_id, first_id + rows)
            cur.executemany(
                "INSERT INTO orders (id, customer_id, status, total_amount, currency, version,"
                " created_at, updated_at) VALUES (%s, %s, 'PENDING', %s, 'EUR', 1, %s, %s)",
                [(i, customer_id, amount, now, now) for i in ids],
            )
            cur.executemany(
                "INSERT INTO order_status_history (order_id, from_status, to_status,"
                " previous_amount, amount, changed_at) VALUES (%s, NULL, 'PENDING', NULL, %s, %s)",
                [(i, amount, now) for i in ids],
            )
        conn.commit()
    finally:
        conn.close()


#: What Debezium's error says (and so ``status``) when the binlog position it needs is gone,
#: and when its schema-history topic is.
#: A purged binlog shows in one of two ways: Debezium's own check at task start, or MariaDB
#: refusing the binlog stream (the GTID position is in no binlog file left).
BINLOG_GONE = ("no longer available on the server", "Could not find GTID state requested by")
HISTORY_GONE = ("history topic is missing",)

#: Tries at catching Debezium in the middle of the transaction before the scenario gives up.
MID_STREAM_ATTEMPTS = 3


@scenario(
    "connect-kill9",
    f"kill -9 of the Connect worker running the CDC task while it streams a "
    f"{BIG_TRANSACTION_ROWS}-row transaction (part of its rows on the topic)",
    fast=True,
)
def connect_kill9(chaos: Chaos) -> Fault:
    started = time.monotonic()
    notes = []
    for attempt in range(1, MID_STREAM_ATTEMPTS + 1):
        outcome, mid_stream = _kill_mid_transaction(chaos)
        notes.append(outcome.note)
        if mid_stream:  # the verdict stands; only a kill that came too late is retried
            break
        chaos.say(f"attempt {attempt}: {outcome.note}")
        chaos.wait_healthy(300)  # the task runs again before the next try
    return Fault(time.monotonic() - started, "; ".join(notes), ok=outcome.ok and mid_stream)


def _kill_mid_transaction(chaos: Chaos) -> tuple[Fault, bool]:
    """Commit a big transaction, kill -9 the task's worker as soon as its first rows reach
    the CDC topic, and check that all of them arrive once the worker is back. The flag says
    whether the kill came while only part of the rows were on the topic."""
    program = task_worker(chaos)
    pid = chaos.pid(program)
    first_id = FIRST_TEST_ID + random.randrange(10**6) * 10**5
    rows = TransactionRows(first_id, BIG_TRANSACTION_ROWS)
    watch = TopicWatch(chaos.settings, chaos.settings.topics.cdc)
    try:
        writer = threading.Thread(
            target=big_transaction, args=(chaos, BIG_TRANSACTION_ROWS, first_id), daemon=True
        )
        writer.start()
        if not watch.read_until(rows.add, lambda: rows.seen > 0, 120):
            return Fault(0, "the transaction's rows never reached the topic", ok=False), True
        started = time.monotonic()
        chaos.kill9(program)
        on_topic = _rows_on_topic_now(watch, rows)
        until(
            f"{program} to be restarted",
            lambda: (s := chaos.supervisor.program(program)).running and s.pid != pid,
            120,
        )
        down = time.monotonic() - started
        arrived = watch.read_until(rows.add, lambda: rows.complete, 300)
    finally:
        watch.close()
    writer.join(timeout=60)
    span = f"orders {first_id}..{first_id + BIG_TRANSACTION_ROWS - 1}"
    if on_topic >= BIG_TRANSACTION_ROWS:
        return Fault(down, f"too late: all {on_topic} rows were on the topic at the kill"), False
    after = (
        f"all {BIG_TRANSACTION_ROWS} arrived after the restart ({rows.duplicates} duplicates)"
        if arrived
        else f"only {rows.distinct} of {BIG_TRANSACTION_ROWS} arrived within 300s"
    )
    note = f"{program} killed with {on_topic}/{BIG_TRANSACTION_ROWS} rows on the topic; {after}"
    return Fault(down, f"{note} ({span})", ok=arrived), True


def _rows_on_topic_now(watch: TopicWatch, rows: TransactionRows) -> int:
    """How many distinct rows of the transaction the topic holds, read to the end offsets
    taken right after the kill (the dead worker produces nothing more)."""
    if not watch.read_to(rows.add, watch.end_offsets(), 60):
        raise RuntimeError("could not read the CDC topic to its end after the kill")
    return rows.distinct


@scenario(
    "binlog-purged",
    "binlog purged while both Connect workers are down; recovery: orderstream connector resnapshot",
    loses_changes=True,
    recovery_s=600,
)
def binlog_purged(chaos: Chaos) -> Fault:
    workers = [program_name(w) for w in WORKER_IDS]
    started = time.monotonic()
    for program in workers:
        chaos.stop(program)
    chaos.hold(20)
    chaos.admin_sql("FLUSH BINARY LOGS")
    # every file before the one just opened: the connector's position is in one of them
    # (BEFORE NOW() would keep a file closed within the same second)
    current = chaos.admin_sql("SHOW MASTER STATUS").split("\t", 1)[0].strip()
    if not current:
        raise RuntimeError("SHOW MASTER STATUS names no binlog file (is log_bin on?)")
    chaos.admin_sql(f"PURGE BINARY LOGS TO '{current}'")
    for program in workers:
        chaos.start(program)
    loud, said = status_names_failure(chaos, BINLOG_GONE, 180)
    chaos.say("recovering with: orderstream connector resnapshot")
    resnapshot(chaos.ctx, cdc_connector_spec(chaos.ctx.layout))
    return Fault(time.monotonic() - started, said, ok=loud)


@scenario(
    "schema-history-deleted",
    "Debezium's schema-history topic deleted, the connector restarted; recovery: "
    "orderstream connector recover-history",
    recovery_s=600,
)
def schema_history_deleted(chaos: Chaos) -> Fault:
    spec = cdc_connector_spec(chaos.ctx.layout)
    history = spec.config[SCHEMA_HISTORY_CONFIG]
    started = time.monotonic()
    chaos.say(f"deleting topic {history}")
    admin = admin_client(chaos.settings)  # held: a client collected early aborts its futures
    admin.delete_topics([history])[history].result(timeout=60)
    chaos.kill9(task_worker(chaos))  # the task restarts and must read its history
    loud, said = status_names_failure(chaos, HISTORY_GONE, 240)
    chaos.say("recovering with: orderstream connector recover-history")
    recover_history(chaos.ctx, spec)
    return Fault(time.monotonic() - started, said, ok=loud)


def status_names_failure(chaos: Chaos, causes: tuple[str, ...], timeout: float) -> tuple[bool, str]:
    """Wait for ``status`` to show the CDC connector's task FAILED with one of ``causes`` in
    its line: (whether it did, what it said)."""
    name = f"connector {cdc_connector_spec(chaos.ctx.layout).name}"
    last = "no status line"

    def named() -> bool:
        nonlocal last
        line = next((c for c in check_all(chaos.settings) if c.component == name), None)
        if line is None:
            return False
        last = line.detail
        return not line.healthy and "FAILED" in line.detail and names_cause(line.detail, causes)

    try:
        until(f"status to show {name} FAILED: {causes}", named, timeout, interval=3)
    except WaitTimeout:
        return False, f"status did NOT name the failure {causes} within {timeout:.0f}s: {last}"
    return True, f"status named it: {last[:200]}"


def names_cause(detail: str, causes: tuple[str, ...]) -> bool:
    """Whether a ``status`` line names one of ``causes``."""
    return any(cause in detail for cause in causes)
