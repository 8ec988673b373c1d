"""Watching a big transaction arrive on the CDC topic, to kill Connect in the middle of it.

The binlog carries a transaction only once it has committed, so "in the middle of the
transaction" for Debezium means: the transaction has committed and Debezium is streaming its
rows to Kafka, some of them are on the topic and some are not yet. :class:`TransactionRows`
counts the transaction's rows among the CDC topic's records (pure); :class:`TopicWatch` reads
the topic from the offsets it had before the transaction (Kafka IO, nothing committed).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

from confluent_kafka import Consumer, TopicPartition

from orderstream.settings import Settings
from orderstream.stack.kafka_admin import QUIET_LOGGER

#: What :class:`TopicWatch` calls with each record's key and value.
OnRecord = Callable[[bytes | None, bytes | None], None]


class TransactionRows:
    """The CDC records of orders ``first_id .. first_id + rows - 1`` seen so far."""

    def __init__(self, first_id: int, rows: int) -> None:
        self.first_id = first_id
        self.rows = rows
        self.seen = 0
        self.ids: set[int] = set()

    def add(self, key: bytes | None, _value: bytes | None = None) -> None:
        """Count one CDC record by its key (``{"id": N}``); other orders are ignored. Takes
        the value too, to serve as a :class:`TopicWatch` callback."""
        order_id = order_id_of(key)
        if order_id is not None and self.first_id <= order_id < self.first_id + self.rows:
            self.seen += 1
            self.ids.add(order_id)

    @property
    def distinct(self) -> int:
        return len(self.ids)

    @property
    def complete(self) -> bool:
        return self.distinct == self.rows

    @property
    def duplicates(self) -> int:
        """Records delivered more than once (at-least-once after a crash)."""
        return self.seen - self.distinct


def order_id_of(key: bytes | None) -> int | None:
    """The order id of a CDC record key, None for a key that is not an order's."""
    if not key:
        return None
    try:
        obj = json.loads(key)
    except ValueError:
        return None
    value = obj.get("id") if isinstance(obj, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class TopicWatch:
    """Reads a topic from the end offsets it had when the watch was opened, or from
    ``starts`` (partition -> offset; a partition whose end is below its start, the topic
    recreated since, is read from its beginning)."""

    def __init__(
        self, settings: Settings, topic: str, starts: dict[int, int] | None = None
    ) -> None:
        self.topic = topic
        self.consumer = Consumer(
            {
                "bootstrap.servers": settings.bootstrap_servers,
                "group.id": f"orderstream-chaos-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 10,
                "logger": QUIET_LOGGER,
            }
        )
        partitions = self.consumer.list_topics(topic, timeout=10).topics[topic].partitions
        assigned = []
        for p in partitions:
            _, high = self.consumer.get_watermark_offsets(
                TopicPartition(topic, p), timeout=10, cached=False
            )
            offset = high if starts is None else starts.get(p, 0)
            assigned.append(TopicPartition(topic, p, 0 if offset > high else offset))
        self.consumer.assign(assigned)
        #: partition -> the offset of the next record to read
        self.next = {tp.partition: tp.offset for tp in assigned}

    def end_offsets(self) -> dict[int, int]:
        """Each partition's end offset now."""
        ends = {}
        for p in self.next:
            tp = TopicPartition(self.topic, p)
            _, high = self.consumer.get_watermark_offsets(tp, timeout=10, cached=False)
            ends[p] = int(high)
        return ends

    def _read_one(self, on_record: OnRecord) -> None:
        msg = self.consumer.poll(0.05)
        if msg is None or msg.error() is not None:
            return
        on_record(msg.key(), msg.value())
        partition, offset = msg.partition(), msg.offset()
        if partition is not None and offset is not None:
            self.next[partition] = offset + 1

    def read_until(self, on_record: OnRecord, done: Callable[[], bool], timeout: float) -> bool:
        """Feed records to ``on_record`` until ``done()`` (True) or ``timeout`` seconds (False)."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                return False
            self._read_one(on_record)
        return True

    def read_to(self, on_record: OnRecord, ends: dict[int, int], timeout: float) -> bool:
        """Feed every record before ``ends`` (partition -> offset) to ``on_record``."""
        deadline = time.monotonic() + timeout
        while any(self.next.get(p, 0) < end for p, end in ends.items()):
            if time.monotonic() > deadline:
                return False
            self._read_one(on_record)
        return True

    def close(self) -> None:
        self.consumer.close()
