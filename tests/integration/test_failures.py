"""kill -9 of a Kafka broker or a Connect worker loses nothing and heals."""

from __future__ import annotations

from typing import Any

import pymysql
from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient

from orderstream.settings import Settings
from orderstream.stack.connect import ConnectClient
from orderstream.stack.supervisor import Supervisor
from tests.integration.conftest import (
    TopicTail,
    insert_order,
    kill_and_hold_down,
    poll_until,
    start_program,
    unique_order_ids,
)


def broker_ids(admin: AdminClient) -> set[int]:
    return set(admin.list_topics(timeout=10).brokers)


def isr_complete(admin: AdminClient, topics: list[str]) -> bool:
    meta = admin.list_topics(timeout=10)
    return all(len(p.isrs) == 3 for t in topics for p in meta.topics[t].partitions.values())


def test_broker_kill9_keeps_writes_and_cdc_flowing(
    settings: Settings,
    supervisor: Supervisor,
    admin: AdminClient,
    db: pymysql.connections.Connection[Any],
    cdc_tail: TopicTail,
    scratch_topic: str,
) -> None:
    victim_id = 2
    kill_and_hold_down(supervisor, f"kafka-{victim_id}")
    try:
        poll_until(
            f"broker {victim_id} to leave the cluster metadata",
            lambda: victim_id not in broker_ids(admin),
            60,
        )

        errors: list[KafkaError] = []
        delivered: list[int] = []

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                errors.append(err)
            else:
                delivered.append(msg.offset())

        producer = Producer(
            {
                "bootstrap.servers": settings.bootstrap_servers,
                "acks": "all",
                "enable.idempotence": True,
                "message.timeout.ms": 60000,
            }
        )
        for i in range(200):
            producer.produce(scratch_topic, key=str(i), value=f"v{i}", on_delivery=on_delivery)
        assert producer.flush(60) == 0
        assert errors == []
        assert len(delivered) == 200

        (order_id,) = unique_order_ids(1)
        insert_order(db, order_id)
        cdc_tail.poll_for(
            f"the CDC event of order {order_id} with a broker down",
            lambda ev: any(e.order_id == order_id for e in ev),
            90,
        )
    finally:
        start_program(supervisor, f"kafka-{victim_id}")

    poll_until(f"broker {victim_id} to rejoin", lambda: victim_id in broker_ids(admin), 120)
    poll_until(
        "every partition's ISR to heal back to 3 replicas",
        lambda: isr_complete(admin, [settings.topic_cdc, scratch_topic]),
        180,
        interval=2,
    )


def worker_index(settings: Settings, worker_id: str) -> int:
    """Index (0 or 1) of the Connect worker whose REST address is ``host:port``."""
    return settings.connect_ports.index(int(worker_id.rsplit(":", 1)[1]))


def test_connect_worker_kill9_moves_the_task_and_loses_no_change(
    settings: Settings,
    supervisor: Supervisor,
    db: pymysql.connections.Connection[Any],
    cdc_tail: TopicTail,
    cdc_connector: str,
) -> None:
    status = ConnectClient(settings.connect_url).status(cdc_connector)
    assert status is not None and status.running
    task_worker = status.tasks[0][2]
    victim_index = worker_index(settings, task_worker)
    victim = f"connect-{victim_index + 1}"
    victim_url = settings.connect_urls[victim_index]
    survivor = ConnectClient(settings.connect_urls[1 - victim_index])

    ids = unique_order_ids(30)
    for order_id in ids[:10]:
        insert_order(db, order_id)
    kill_and_hold_down(supervisor, victim)
    try:
        for order_id in ids[10:20]:
            insert_order(db, order_id)

        def task_on_survivor() -> bool:
            st = survivor.status(cdc_connector)
            return st is not None and st.running and all(t[2] != task_worker for t in st.tasks)

        what = f"the {cdc_connector} task to move off {victim}"
        poll_until(what, task_on_survivor, 120, interval=1)
        for order_id in ids[20:]:
            insert_order(db, order_id)

        wanted = set(ids)
        events = cdc_tail.poll_for(
            "every order inserted around the worker kill on mysql-orders",
            lambda ev: wanted <= {e.order_id for e in ev},
            120,
        )
    finally:
        start_program(supervisor, victim)

    with db.cursor() as cur:
        cur.execute(f"SELECT id FROM orders WHERE id IN ({','.join(['%s'] * len(ids))})", ids)
        committed = {int(row[0]) for row in cur.fetchall()}
    assert committed == set(ids)
    assert committed <= {e.order_id for e in events}
    poll_until(f"{victim} to answer again", lambda: _answers(victim_url), 120, interval=1)


def _answers(url: str) -> bool:
    try:
        ConnectClient(url).worker_info()
        return True
    except Exception:
        return False
