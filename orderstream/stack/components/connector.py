"""The Debezium CDC connector ``connectors/orders-cdc.json``, registered on the Connect group.

The file is the one place of the connector's name and configuration; the addresses,
credentials and the CDC topic in it are ``${env:...}`` placeholders that the Connect workers
resolve from the environment the stack gives them (``connect_workers.environment``).
"""

from __future__ import annotations

from functools import cached_property

import pymysql

from orderstream import db
from orderstream.contract import TopicSpec
from orderstream.poll import NotReady, wait_for
from orderstream.stack.components.base import Check, Component, StackContext
from orderstream.stack.connect import (
    ConnectClient,
    ConnectError,
    ConnectorSpec,
    ConnectorStatus,
    unmatched_tables,
)
from orderstream.stack.kafka_admin import admin_client, ensure_topics, topic_end_total
from orderstream.stack.layout import Layout

CDC_CONNECTOR_FILE = "orders-cdc.json"
SCHEMA_HISTORY_CONFIG = "schema.history.internal.kafka.topic"


def cdc_connector_spec(layout: Layout) -> ConnectorSpec:
    return ConnectorSpec.from_file(layout.connectors / CDC_CONNECTOR_FILE)


def schema_history_topic(spec: ConnectorSpec) -> TopicSpec | None:
    """Debezium's schema history topic: one partition, kept forever (replayed at start)."""
    name = spec.config.get(SCHEMA_HISTORY_CONFIG)
    return TopicSpec(name, 1, "delete", -1) if name else None


def check_tables(ctx: StackContext, spec: ConnectorSpec) -> None:
    """Fail clearly when table.include.list names no existing table (Debezium would idle)."""
    include = spec.table_include_list()
    if not include:
        return
    s = ctx.settings
    try:
        conn = db.connect(s.database, use_database=False)
    except pymysql.MySQLError as exc:
        raise ConnectError(f"MariaDB at {s.host}:{s.db_port}: {exc}") from exc
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables"
            )
            existing = [str(row[0]) for row in cur.fetchall()]
    finally:
        conn.close()
    missing = unmatched_tables(include, existing)
    if missing:
        raise ConnectError(
            f"connector {spec.name}: table.include.list entries match no table in MariaDB: "
            + ", ".join(missing)
        )


def register(
    ctx: StackContext, spec: ConnectorSpec, timeout: float = 120, connect_url: str | None = None
) -> str:
    """PUT the connector's config (idempotent) and wait until it and its tasks run.

    ``connect_url`` is the worker to talk to (the first local worker when None: docker-compose
    passes its Connect service). Returns "created", "updated" or "unchanged"; a rejected config
    or a FAILED task raises :class:`ConnectError` at once, naming the connector and the cause.
    """
    check_tables(ctx, spec)
    topic = schema_history_topic(spec)
    if topic is not None:
        for note in ensure_topics(admin_client(ctx.settings), [topic]):
            ctx.say(note)
    client = ConnectClient(connect_url or ctx.settings.connect_url)
    current = client.get_config(spec.name)
    if current is not None and current == {**spec.config, "name": spec.name}:
        outcome = "unchanged"
    else:
        errors = client.validate(spec)
        if errors:
            raise ConnectError(f"connector {spec.name} is misconfigured: " + "; ".join(errors))
        outcome = "created" if client.put_config(spec) else "updated"

    def running() -> None:
        try:
            status = client.status(spec.name)
        except ConnectError as exc:  # the worker is busy rebalancing: ask again
            raise NotReady(str(exc)) from exc
        if status is None:
            raise NotReady("not registered yet")
        failure = status.failure()
        if failure is not None:
            raise ConnectError(f"connector {spec.name}: {failure}")
        if not status.running:
            raise NotReady(f"last status: {status}")

    wait_for(f"connector {spec.name} to be RUNNING", running, timeout, interval=1)
    return outcome


def resnapshot(ctx: StackContext, spec: ConnectorSpec, timeout: float = 300) -> None:
    """The recovery when the binlog position the connector needs is gone: stop it, forget its
    offsets and resume; Debezium snapshots the tables again (every row as op ``r``) and then
    streams from the current binlog. Changes between the lost position and the snapshot are
    lost; ``orderstream reconcile`` names the windows that miss them."""
    client = ConnectClient(ctx.settings.connect_url)
    client.lifecycle(spec.name, "stop")

    def stopped() -> None:
        status = client.status(spec.name)
        if status is None or status.state != "STOPPED":
            raise NotReady(f"last status: {status}")

    wait_for(f"connector {spec.name} to stop", stopped, 120, interval=1, retry_on=(ConnectError,))
    client.reset_offsets(spec.name)
    ctx.say(f"connector {spec.name}: offsets reset; resuming with a new snapshot")
    client.lifecycle(spec.name, "resume")

    def running() -> None:
        status = client.status(spec.name)
        if status is None or not status.running:
            raise NotReady(f"last status: {status}")

    what = f"connector {spec.name} to run"
    wait_for(what, running, timeout, interval=1, retry_on=(ConnectError,))


def recover_history(ctx: StackContext, spec: ConnectorSpec, timeout: float = 300) -> None:
    """The recovery when Debezium's schema-history topic is gone: recreate it, run the
    connector once with ``snapshot.mode=recovery`` (Debezium rebuilds the history from the
    current table definitions and keeps its binlog position), then restore the file's config."""
    recovery = ConnectorSpec(spec.name, {**spec.config, "snapshot.mode": "recovery"})
    ctx.say(f"connector {spec.name}: rebuilding its schema history (snapshot.mode=recovery)")
    history = spec.config.get(SCHEMA_HISTORY_CONFIG, "")
    admin = admin_client(ctx.settings)
    for note in ensure_topics(admin, [TopicSpec(history, 1, "delete", -1)]):
        ctx.say(note)
    client = ConnectClient(ctx.settings.connect_url)
    client.put_config(recovery)
    client.restart(spec.name)

    def history_written() -> None:
        topic = admin.list_topics(history, timeout=5).topics.get(history)
        partitions = topic.partitions if topic is not None else {}
        if not partitions or topic_end_total(ctx.settings, history) <= 0:
            raise NotReady(f"schema history topic {history} is still empty")

    wait_for(f"schema history topic {history}", history_written, timeout, interval=1)
    client.put_config(spec)
    client.restart(spec.name)

    def running() -> None:
        status = client.status(spec.name)
        if status is None or not status.running:
            raise NotReady(f"last status: {status}")

    what = f"connector {spec.name} to run"
    wait_for(what, running, timeout, interval=1, retry_on=(ConnectError,))
    ctx.say(f"connector {spec.name}: schema history rebuilt, configuration restored")


def describe(status: ConnectorStatus) -> str:
    tasks = ", ".join(f"task {t[0]} {t[1]} on {t[2]}" for t in status.tasks) or "no tasks"
    detail = f"{status.state} on {status.worker_id}; {tasks}"
    failure = status.failure()
    return detail + (f"; {failure}" if failure else "")


class CdcConnector(Component):
    name = "connector"

    @cached_property
    def spec(self) -> ConnectorSpec:
        return cdc_connector_spec(self.layout)

    def after_start(self) -> None:
        outcome = register(self.ctx, self.spec)
        self.ctx.say(f"connector {self.spec.name}: {outcome}, RUNNING")

    def checks(self) -> list[Check]:
        name = f"connector {self.spec.name}"
        last_error = "no Connect worker answers"
        for url in self.settings.connect_urls:
            try:
                status = ConnectClient(url).status(self.spec.name)
            except ConnectError as exc:
                last_error = str(exc)
                continue
            if status is None:
                return [Check(name, False, "not registered (scripts/start.sh registers it)")]
            return [Check(name, status.running, describe(status))]
        return [Check(name, False, last_error)]
