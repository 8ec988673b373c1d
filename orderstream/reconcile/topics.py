"""Reading a compacted topic as a table: the latest record per key. Kafka IO only.

Each partition is read from its beginning to the high watermark seen at the start, with
``assign()`` (no consumer-group membership, nothing committed); the last record per key
wins. The group id is a throwaway: librdkafka insists on one even without a group.
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential


class TopicReadError(RuntimeError):
    """The topic could not be read; the message names the topic and the cause."""


#: What a partition's leader change brings for a moment (a broker restarted, leadership moved
#: back): "Leader high watermark is not caught up", "Not leader for partition" and the like.
#: librdkafka does not flag these retriable on the watermark query, so they are named here.
TRANSIENT_WATERMARK_ERRORS = frozenset(
    {
        KafkaError.OFFSET_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
    }
)


def _retriable(exc: BaseException) -> bool:
    if not isinstance(exc, KafkaException) or not exc.args:
        return False
    error = exc.args[0]
    return bool(error.retriable()) or error.code() in TRANSIENT_WATERMARK_ERRORS


def _watermarks(consumer: Consumer, tp: TopicPartition, seconds: float) -> tuple[int, int]:
    """(low, high) of a partition, retrying the errors a leader change brings for ``seconds``."""
    for attempt in Retrying(
        retry=retry_if_exception(_retriable),
        stop=stop_after_delay(seconds),
        wait=wait_exponential(multiplier=0.1, max=2),
        reraise=True,
    ):
        with attempt:
            low, high = consumer.get_watermark_offsets(tp, timeout=10.0, cached=False)
            return int(low), int(high)
    raise AssertionError("unreachable: tenacity reraises")


def read_latest(
    bootstrap_servers: str, topic: str, *, timeout: float = 30.0
) -> dict[bytes | None, bytes | None]:
    """Key -> value of the latest record per key (a None value is a tombstone)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"orderstream-reconcile-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    deadline = time.monotonic() + timeout
    try:
        try:
            metadata = consumer.list_topics(topic, timeout=min(10.0, timeout))
        except KafkaException as exc:
            raise TopicReadError(f"kafka at {bootstrap_servers}: {exc.args[0]}") from None
        info = metadata.topics.get(topic)
        if info is None or info.error is not None:
            reason = info.error.str() if info is not None and info.error else "not found"
            raise TopicReadError(f"topic {topic!r}: {reason}")
        ends: dict[int, int] = {}
        assignment = []
        for partition in sorted(info.partitions):
            low, high = _watermarks(
                consumer, TopicPartition(topic, partition), max(0.0, deadline - time.monotonic())
            )
            if high > low:
                ends[partition] = high
                assignment.append(TopicPartition(topic, partition, low))
        latest: dict[bytes | None, bytes | None] = {}
        if not assignment:
            return latest
        consumer.assign(assignment)
        remaining = set(ends)
        while remaining:
            if time.monotonic() > deadline:
                raise TopicReadError(
                    f"topic {topic!r}: not read to the end within {timeout:.0f}s"
                    f" (partitions {sorted(remaining)} unfinished)"
                )
            for msg in consumer.consume(1000, timeout=0.5):
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        remaining.discard(msg.partition())
                        continue
                    raise TopicReadError(f"topic {topic!r}: {err.str()}")
                if msg.partition() not in remaining:
                    continue  # beyond the high watermark taken at the start
                latest[msg.key()] = msg.value()
                if msg.offset() >= ends[msg.partition()] - 1:
                    remaining.discard(msg.partition())
        return latest
    except KafkaException as exc:
        raise TopicReadError(f"topic {topic!r}: {exc.args[0]}") from None
    finally:
        consumer.close()
