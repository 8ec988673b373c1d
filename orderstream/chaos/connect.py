"""Kafka Connect faults: kill -9 of the worker that runs the CDC task mid-transaction."""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal

from orderstream import db
from orderstream.chaos.harness import Chaos
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


@scenario(
    "connect-kill9",
    f"kill -9 of the Connect worker running the CDC task during a {BIG_TRANSACTION_ROWS}-row "
    "transaction",
    fast=True,
)
def connect_kill9(chaos: Chaos) -> Fault:
    program = task_worker(chaos)
    first_id = FIRST_TEST_ID + random.randrange(10**6) * 10**5
    writer = threading.Thread(
        target=big_transaction, args=(chaos, BIG_TRANSACTION_ROWS, first_id), daemon=True
    )
    writer.start()
    writer.join(timeout=30)  # committed: Debezium is now streaming its 10,000 events
    pid = chaos.pid(program)
    started = time.monotonic()
    chaos.kill9(program)
    until(
        f"{program} to be restarted",
        lambda: (s := chaos.supervisor.program(program)).running and s.pid != pid,
        120,
    )
    note = f"{program} ran the task; orders {first_id}..{first_id + BIG_TRANSACTION_ROWS - 1}"
    return Fault(time.monotonic() - started, note, ok=not writer.is_alive())


@scenario(
    "binlog-purged",
    "binlog purged while both Connect workers are down; recovery: orderstream connector "
    "resnapshot",
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
    chaos.admin_sql("PURGE BINARY LOGS BEFORE NOW()")
    for program in workers:
        chaos.start(program)
    name = f"connector {cdc_connector_spec(chaos.ctx.layout).name}"

    def named_by_status() -> bool:
        return any(
            c.component == name and not c.healthy and "FAILED" in c.detail
            for c in check_all(chaos.settings)
        )

    loud = True
    try:
        until("status to name the failed connector", named_by_status, 180, interval=3)
    except WaitTimeout:
        loud = False
    chaos.say("recovering with: orderstream connector resnapshot")
    resnapshot(chaos.ctx, cdc_connector_spec(chaos.ctx.layout))
    note = "status named the FAILED task" if loud else "status did NOT name a FAILED task"
    return Fault(time.monotonic() - started, note, ok=loud)


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
    admin_client(chaos.settings).delete_topics([history])[history].result(timeout=60)
    chaos.kill9(task_worker(chaos))  # the task restarts and must read its history
    name = f"connector {spec.name}"

    def named_by_status() -> bool:
        return any(
            c.component == name and not c.healthy and "FAILED" in c.detail
            for c in check_all(chaos.settings)
        )

    loud = True
    try:
        until("status to name the failed connector", named_by_status, 240, interval=3)
    except WaitTimeout:
        loud = False
    chaos.say("recovering with: orderstream connector recover-history")
    recover_history(chaos.ctx, spec)
    note = "status named the FAILED task" if loud else "status did NOT name a FAILED task"
    return Fault(time.monotonic() - started, note, ok=loud)
