"""The orders dataflow against the live Kafka cluster (needs the native stack up).

Runs ``python -m bytewax.run dataflows.orders`` as a subprocess on uniquely named topics
created for the test (replication factor 3) and deleted afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from orderstream.settings import Settings

pytestmark = pytest.mark.integration

DEADLINE_S = 90


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def bootstrap() -> str:
    return Settings.from_env().bootstrap_servers


@pytest.fixture
def topics(bootstrap: str) -> Iterator[dict[str, str]]:
    run = uuid.uuid4().hex[:10]
    names = {
        kind: f"it-dataflow-{run}-{kind}"
        for kind in ("cdc", "processed", "revenue", "transitions", "dlq")
    }
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=2, replication_factor=3) for name in names.values()]
    )
    for future in futures.values():
        future.result(timeout=30)
    try:
        yield names
    finally:
        for future in admin.delete_topics(list(names.values())).values():
            future.result(timeout=30)


def _envelope(order_id: int) -> dict[str, Any]:
    now_us = time.time_ns() // 1000
    after = {
        "id": order_id,
        "customer_id": 1,
        "status": "PAID",
        "total_amount": "12.50",
        "currency": "USD",
        "version": 1,
        "created_at": now_us,
        "updated_at": now_us,
    }
    source = {"ts_ms": now_us // 1000, "file": "bin.000001", "pos": 4, "row": 0}
    return {"before": None, "after": after, "source": source, "op": "c", "ts_ms": now_us // 1000}


def _poll_until(consumer: Consumer, found: Any) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is None or message.error() is not None:
            continue
        result = found(message)
        if result is not None:
            return result
    raise AssertionError(f"nothing matching arrived within {DEADLINE_S}s")


def _read_to_end(consumer: Consumer, topic: str) -> list[dict[str, Any]]:
    """The records of ``topic`` the subscribed ``consumer`` has not returned yet."""
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    ends = {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in partitions
    }
    records: list[dict[str, Any]] = []

    def at_end() -> bool:
        positions = consumer.position([TopicPartition(topic, p) for p in partitions])
        return all(tp.offset >= ends[tp.partition] or ends[tp.partition] == 0 for tp in positions)

    deadline = time.monotonic() + DEADLINE_S
    while not at_end():
        assert time.monotonic() < deadline, f"could not read {topic} to its end"
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            records.append(orjson.loads(message.value()))
    return records


def _wait_until_empty(bootstrap: str, topic: str, partition: int) -> None:
    """Poll until each broker's view of ``topic``'s ``partition`` is the new, empty one."""
    deadline = time.monotonic() + DEADLINE_S
    for address in bootstrap.split(","):
        consumer = Consumer({"bootstrap.servers": address, "group.id": f"wait-{uuid.uuid4()}"})
        try:
            while True:
                try:
                    low, high = consumer.get_watermark_offsets(
                        TopicPartition(topic, partition), timeout=5
                    )
                    if (low, high) == (0, 0):
                        break
                except Exception:  # the new partition may not have a leader yet
                    pass
                assert time.monotonic() < deadline, f"{topic}[{partition}] never became empty"
                time.sleep(0.5)
        finally:
            consumer.close()


def _consumer(bootstrap: str, topic: str) -> Consumer:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"it-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    return consumer


def test_malformed_record_is_dead_lettered_and_processing_continues(
    bootstrap: str, topics: dict[str, str], tmp_path: Any
) -> None:
    offsets: dict[bytes, int] = {}

    def delivered(err: Any, msg: Any) -> None:
        assert err is None, err
        offsets[msg.key()] = msg.offset()

    # idempotent: a retried produce on a busy machine must not write the record twice
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    producer.produce(
        topics["cdc"],
        key=b'{"id":1}',
        value=b"this is not json",
        partition=0,
        on_delivery=delivered,
    )
    producer.produce(
        topics["cdc"],
        key=b'{"id":2}',
        value=orjson.dumps(_envelope(2)),
        partition=0,
        on_delivery=delivered,
    )
    assert producer.flush(30) == 0
    bad_offset, good_offset = offsets[b'{"id":1}'], offsets[b'{"id":2}']

    env = {
        **os.environ,
        "ORDERSTREAM_KAFKA_BOOTSTRAP": bootstrap,
        "ORDERSTREAM_TOPIC_CDC": topics["cdc"],
        "ORDERSTREAM_TOPIC_PROCESSED": topics["processed"],
        "ORDERSTREAM_TOPIC_REVENUE": topics["revenue"],
        "ORDERSTREAM_TOPIC_TRANSITIONS": topics["transitions"],
        "ORDERSTREAM_TOPIC_DLQ": topics["dlq"],
        "ORDERSTREAM_DATAFLOW_METRICS_PORT": str(_free_port()),
    }
    log_path = tmp_path / "dataflow.log"
    log_file = log_path.open("wb")
    dataflow = subprocess.Popen(
        [sys.executable, "-m", "bytewax.run", "dataflows.orders"],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    dlq = _consumer(bootstrap, topics["dlq"])
    processed = _consumer(bootstrap, topics["processed"])
    try:
        letters: list[dict[str, Any]] = []

        def the_dead_letter(message: Any) -> Any:
            letter = orjson.loads(message.value())
            letters.append(letter)
            return (message.key(), letter) if letter["source_offset"] == bad_offset else None

        key, letter = _poll_until(dlq, the_dead_letter)
        assert key == f"{topics['cdc']}/0/{bad_offset}".encode()
        assert letter["reason"] == "not_json"
        assert letter["source_partition"] == 0

        order = _poll_until(processed, lambda m: orjson.loads(m.value()))
        assert order["order_id"] == 2 and order["status"] == "PAID"
        assert dataflow.poll() is None, f"the dataflow stopped: {log_path.read_text()}"
        # the valid change was not dead-lettered: read the DLQ to its end
        letters += _read_to_end(dlq, topics["dlq"])
        assert good_offset not in {letter["source_offset"] for letter in letters}
    finally:
        dlq.close()
        processed.close()
        dataflow.terminate()
        try:
            dataflow.wait(timeout=20)
        except subprocess.TimeoutExpired:
            dataflow.kill()
            dataflow.wait()
        log_file.close()


def _dataflow_env(bootstrap: str, topics: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "ORDERSTREAM_KAFKA_BOOTSTRAP": bootstrap,
        "ORDERSTREAM_TOPIC_CDC": topics["cdc"],
        "ORDERSTREAM_TOPIC_PROCESSED": topics["processed"],
        "ORDERSTREAM_TOPIC_REVENUE": topics["revenue"],
        "ORDERSTREAM_TOPIC_TRANSITIONS": topics["transitions"],
        "ORDERSTREAM_TOPIC_DLQ": topics["dlq"],
        "ORDERSTREAM_DATAFLOW_METRICS_PORT": str(_free_port()),
    }


def _input_snapshot_epoch(recovery: Any) -> int:
    """The latest epoch of a snapshot of the Kafka input's offsets in a recovery directory."""
    epoch = -1
    for part in recovery.glob("*.sqlite3"):
        with contextlib.closing(sqlite3.connect(part)) as conn:
            row = conn.execute("SELECT max(snap_epoch) FROM snaps WHERE step_id LIKE '%read_cdc'")
            value = row.fetchone()[0]
            epoch = max(epoch, -1 if value is None else int(value))
    return epoch


def _committed_epoch(recovery: Any) -> int:
    """The epoch a resume from this recovery directory would start from (-1: none)."""
    epoch = -1
    for part in recovery.glob("*.sqlite3"):
        with contextlib.closing(sqlite3.connect(part)) as conn:
            value = conn.execute("SELECT max(commit_epoch) FROM commits").fetchone()[0]
            epoch = max(epoch, -1 if value is None else int(value))
    return epoch


def test_sigterm_stops_it_and_recovery_state_of_another_topic_life_is_named(
    bootstrap: str, topics: dict[str, str], tmp_path: Any
) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    for order_id in range(1, 6):
        producer.produce(
            topics["cdc"], key=b"k", value=orjson.dumps(_envelope(order_id)), partition=0
        )
    assert producer.flush(30) == 0
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    subprocess.run([sys.executable, "-m", "bytewax.recovery", str(recovery), "1"], check=True)
    command = [sys.executable, "-m", "bytewax.run", "dataflows.orders", "-r", str(recovery)]
    command += ["-s", "1", "-b", "0"]
    env = _dataflow_env(bootstrap, topics)
    log_path = tmp_path / "dataflow.log"
    with log_path.open("wb") as log:
        first = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        processed = _consumer(bootstrap, topics["processed"])
        try:
            _poll_until(processed, lambda m: orjson.loads(m.value())["order_id"] == 5 or None)
            # a snapshot taken after order 5 was read holds offsets past it; it counts only
            # once its epoch is committed (a resume starts from the last committed epoch)
            seen = _input_snapshot_epoch(recovery)
            deadline = time.monotonic() + DEADLINE_S
            while _committed_epoch(recovery) <= seen + 1:  # one epoch more than needed
                assert time.monotonic() < deadline, "no later committed snapshot of the offsets"
                time.sleep(0.5)
            first.send_signal(signal.SIGTERM)
            first.wait(timeout=15)  # promptly: Bytewax alone would ignore or die on it
        finally:
            processed.close()
            if first.poll() is None:
                first.kill()
                first.wait()
    assert "stopped by SIGTERM" in log_path.read_text(errors="replace")

    # the CDC topic starts a new life (as after purging Kafka alone): empty, same name
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.delete_topics([topics["cdc"]])[topics["cdc"]].result(timeout=30)
    deadline = time.monotonic() + DEADLINE_S
    while True:
        future = admin.create_topics([NewTopic(topics["cdc"], 2, 3)])[topics["cdc"]]
        try:
            future.result(timeout=30)
            break
        except Exception:
            assert time.monotonic() < deadline, "could not recreate the CDC topic"
            time.sleep(1)
    # Brokers learn of the deletion asynchronously: until every one of them serves the new,
    # empty partition, an offset query may still answer with the old topic's offsets (and
    # the recovery state would then look as if it fitted).
    _wait_until_empty(bootstrap, topics["cdc"], partition=0)

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode != 0
    assert "recovery state does not fit topic" in second.stdout + second.stderr
    assert "orderstream stack reset-dataflow" in second.stdout + second.stderr
