"""Fills the bench CDC topic with generated change events (not part of the measurement)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import KafkaError, Message, Producer

from bench.envelopes import HEADERS, CdcRecord

FILL_PRODUCER_CONFIG = {
    "acks": "all",
    "enable.idempotence": True,
    "partitioner": "murmur2_random",  # as the Java producer of Kafka Connect
    "compression.type": "lz4",
    "linger.ms": 100,
    "batch.size": 1_000_000,
    "queue.buffering.max.messages": 1_000_000,
    "queue.buffering.max.kbytes": 1_048_576,
}


@dataclass(frozen=True)
class FillResult:
    records: int
    value_bytes: int
    seconds: float  # generation and produce together


class FillFailed(RuntimeError):
    pass


def fill_topic(bootstrap_servers: str, topic: str, records: Iterable[CdcRecord]) -> FillResult:
    producer = Producer({"bootstrap.servers": bootstrap_servers, **FILL_PRODUCER_CONFIG})
    failures: list[str] = []

    def on_delivery(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failures.append(error.str())

    started = time.perf_counter()
    count = value_bytes = 0
    for record in records:
        _produce(producer, topic, record, on_delivery)
        count += 1
        value_bytes += len(record.value)
    remaining = producer.flush(300)
    if failures or remaining:
        raise FillFailed(f"{len(failures)} failed, {remaining} unconfirmed: {failures[:3]}")
    return FillResult(count, value_bytes, time.perf_counter() - started)


def _produce(producer: Producer, topic: str, record: CdcRecord, on_delivery: object) -> None:
    while True:
        try:
            producer.produce(
                topic, key=record.key, value=record.value, headers=HEADERS, on_delivery=on_delivery
            )
        except BufferError:
            producer.poll(0.05)
        else:
            producer.poll(0)
            return
