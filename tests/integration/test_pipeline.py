"""The supervised dataflow on the live stack: MariaDB -> Debezium -> Kafka -> Bytewax -> Kafka.

Orders come from `orderstream loadgen` through MariaDB; `orderstream reconcile` compares
the dataflow's aggregates with the ground truth in order_status_history, to the cent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymysql
import pytest
import requests
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from orderstream.settings import REPO_ROOT, Settings
from orderstream.stack.components.dataflow import metric_sum
from orderstream.stack.kafka_admin import ensure_topics, stack_topics
from orderstream.stack.supervisor import Supervisor
from tests.integration.conftest import (
    TopicTail,
    free_consecutive_ports,
    free_ports,
    insert_order,
    kill_and_hold_down,
    poll_until,
    start_program,
    unique_order_ids,
)

#: Long enough for the last window to close (window + allowed lateness) and the pipeline to
#: drain, on a loaded 2-core machine.
RECONCILE_WAIT_SECONDS = 240


def cli(
    *args: str, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orderstream", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
    )


def loadgen(rate: int, seconds: int, first_id: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orderstream",
            "loadgen",
            "--rate",
            str(rate),
            "--duration",
            str(seconds),
            "--seed",
            str(first_id % 100_000),
            "--first-id",
            str(first_id),
            "--illegal-rate",
            "0.05",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )


def window_floor(t: datetime, settings: Settings) -> str:
    seconds = int(t.timestamp()) // settings.window_seconds * settings.window_seconds
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def first_id_block() -> int:
    """A block of a million ids for one loadgen run, above the demo load, below the tests."""
    return (900_000 + uuid.uuid4().int % 90_000) * 1_000_000


def assert_reconciles(
    since: datetime, settings: Settings, env: dict[str, str] | None = None
) -> None:
    result = cli(
        "reconcile",
        "--from",
        window_floor(since, settings),
        "--wait",
        str(RECONCILE_WAIT_SECONDS),
        timeout=RECONCILE_WAIT_SECONDS + 120,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_malformed_cdc_record_is_dead_lettered_and_processing_continues(
    settings: Settings, db: pymysql.connections.Connection[Any]
) -> None:
    dlq = TopicTail(settings, settings.topic_dlq)
    processed = TopicTail(settings, settings.topic_processed)
    try:
        offsets: list[tuple[int, int]] = []

        def delivered(err: Any, msg: Any) -> None:
            assert err is None, err
            offsets.append((msg.partition(), msg.offset()))

        producer = Producer({"bootstrap.servers": settings.bootstrap_servers, "acks": "all"})
        producer.produce(
            settings.topic_cdc, key=b'{"id":1}', value=b"{not json", on_delivery=delivered
        )
        assert producer.flush(30) == 0
        ((partition, offset),) = offsets
        (order_id,) = unique_order_ids(1)
        insert_order(db, order_id)

        def dead_letter_for_it(events: list[Any]) -> bool:
            return any(
                e.value is not None
                and e.value.get("source_partition") == partition
                and e.value.get("source_offset") == offset
                for e in events
            )

        events = dlq.poll_for("the malformed record on the DLQ", dead_letter_for_it, 120)
        letter = next(e.value for e in events if dead_letter_for_it([e]))
        assert letter is not None
        assert letter["reason"] == "not_json"
        assert letter["source_topic"] == settings.topic_cdc
        processed.poll_for(
            f"order {order_id} on processed-orders after the malformed record",
            lambda ev: any(e.value and e.value.get("order_id") == order_id for e in ev),
            120,
        )
    finally:
        dlq.close()
        processed.close()


def test_loadgen_orders_reconcile_to_the_cent(settings: Settings) -> None:
    started = datetime.now(UTC)
    run = loadgen(rate=20, seconds=20, first_id=first_id_block())
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 0, stderr
    assert_reconciles(started, settings)


def test_dataflow_kill9_mid_load_recovers_to_the_ground_truth(
    settings: Settings, supervisor: Supervisor
) -> None:
    started = datetime.now(UTC)
    run = loadgen(rate=20, seconds=40, first_id=first_id_block())
    try:
        events_before = _events_in(settings)
        poll_until(
            "the dataflow to read some of the new load",
            lambda: _events_in(settings) >= events_before + 50,
            40,
        )
        kill_and_hold_down(supervisor, "dataflow")
        poll_until("the dataflow to be gone", lambda: _events_in(settings) < 0, 30)
    finally:
        start_program(supervisor, "dataflow")
    poll_until("the restarted dataflow to serve metrics", lambda: _events_in(settings) >= 0, 120)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 0, stderr
    assert_reconciles(started, settings)
    # it resumed from its recovery snapshot, not from the beginning of the topic
    assert 0 < _events_in(settings) < _records_in(settings, settings.topic_cdc)


def _records_in(settings: Settings, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": "count"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        total = 0
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


def _events_in(settings: Settings) -> float:
    """orders_events_in_total of the supervised dataflow, -1 when it does not answer."""
    url = f"http://{settings.host}:{settings.dataflow_metrics_port}/metrics"
    try:
        text = requests.get(url, timeout=2).text
    except requests.RequestException:
        return -1
    return metric_sum(text, "orders_events_in_total") or 0.0


@pytest.mark.parametrize("workers", [1, 2])
def test_two_processes_reach_the_ground_truth(
    settings: Settings, admin: AdminClient, tmp_path: Path, workers: int
) -> None:
    """`-i/-a` processes with `-w` workers each: per-order state is keyed, so totals are right.
    With one worker each, each process reads its own partitions and keeps their orders
    (dataflows/placement.py); with two, Bytewax spreads partitions over the threads."""
    suffix = uuid.uuid4().hex[:8]
    topics = {
        "ORDERSTREAM_TOPIC_PROCESSED": f"test-{suffix}-processed",
        "ORDERSTREAM_TOPIC_REVENUE": f"test-{suffix}-revenue",
        "ORDERSTREAM_TOPIC_TRANSITIONS": f"test-{suffix}-transitions",
        "ORDERSTREAM_TOPIC_DLQ": f"test-{suffix}-dlq",
    }
    scaled = Settings.from_env({**os.environ, **topics})
    specs = [t for t in stack_topics(scaled) if t.name in topics.values()]
    ensure_topics(admin, specs)
    metrics_port = free_consecutive_ports(2)  # process i serves metrics on port + i
    cluster_ports = free_ports(2)
    env = {**os.environ, **topics, "ORDERSTREAM_DATAFLOW_METRICS_PORT": str(metrics_port)}
    addresses = ";".join(f"127.0.0.1:{p}" for p in cluster_ports)
    run_flow = [sys.executable, "-m", "bytewax.run", "dataflows.orders", "-w", str(workers)]
    processes = [
        subprocess.Popen(
            [*run_flow, "-i", str(i), "-a", addresses],
            env=env,
            cwd=REPO_ROOT,
            stdout=(tmp_path / f"process-{i}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        for i in range(2)
    ]
    try:
        started = datetime.now(UTC)
        run = loadgen(rate=20, seconds=20, first_id=first_id_block())
        _, stderr = run.communicate(timeout=120)
        assert run.returncode == 0, stderr
        assert all(p.poll() is None for p in processes), "a dataflow process exited"
        assert_reconciles(started, settings, env=topics)
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        admin.delete_topics(list(topics.values()), operation_timeout=30)
