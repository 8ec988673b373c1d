"""Kafka input and output of the dataflow (confluent-kafka under Bytewax's connector APIs).

Nothing here connects at import or construction: consumers and producers are created when
Bytewax builds the partitions at run time, so ``dataflows.orders`` imports without a broker.

Input: one source partition per topic partition, assigned (no consumer group), offsets kept
in Bytewax's recovery snapshots. A partition never blocks the worker: each ``next_batch``
takes what librdkafka has already fetched (timeout 0) and, when that is nothing, asks Bytewax
(``next_awake``) to look again after the idle poll interval, so an idle worker returns to
every partition within that interval instead of waiting in each empty one in turn. The first
run starts at the beginning of the topic; a recovered offset that no longer exists
(retention deleted it) stops the dataflow (``auto.offset.reset=error``) instead of silently
skipping data. Transient network errors
are logged and retried by librdkafka; any other consumer error stops the dataflow.

Output: one idempotent producer (``acks=all``, ``enable.idempotence=true``) per worker and
topic. Every batch is flushed and every delivery report checked; a failed or unconfirmed
delivery raises :class:`DeliveryFailed`, which stops the dataflow.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bytewax.connectors.kafka import BYTEWAX_CONSUMER_LAG_GAUGE
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from dataflows import metrics, routing
from dataflows.cdc import RawChange
from dataflows.placement import ONE_WORKER, Placement
from dataflows.records import OutRecord
from dataflows.settings import BATCH_SIZE, PREFETCH_KBYTES, PRODUCER_SETTINGS, RESET_COMMAND

log = logging.getLogger(__name__)

#: Consumer errors librdkafka recovers from by itself (brokers restarting, DNS hiccups).
TRANSIENT_CONSUMER_ERRORS = frozenset(
    {
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._RESOLVE,
        KafkaError._TIMED_OUT,
    }
)


class SourceError(RuntimeError):
    """The CDC topic cannot be read as required; the dataflow must stop."""


class DeliveryFailed(RuntimeError):
    """An output record was not confirmed by the brokers; the dataflow must stop."""


def consumer_config(
    bootstrap_servers: str, prefetch_kbytes: int = PREFETCH_KBYTES[1]
) -> dict[str, Any]:
    """``prefetch_kbytes``: the most librdkafka fetches ahead per consumer, i.e. per input
    partition (``queued.max.messages.kbytes``)."""
    return {
        "bootstrap.servers": bootstrap_servers,
        # Partitions are assigned, never subscribed: the group id is required but unused,
        # and nothing is committed. Offsets live in Bytewax's recovery snapshots.
        "group.id": "orderstream-dataflow-unused",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        # An assigned offset that no longer exists is an error, never a silent jump.
        "auto.offset.reset": "error",
        "enable.partition.eof": False,
        "statistics.interval.ms": 1000,
        "queued.max.messages.kbytes": prefetch_kbytes,
    }


def producer_config(bootstrap_servers: str, delivery_timeout: timedelta) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap_servers,
        **PRODUCER_SETTINGS,
        # Delivery reports (a Python callback each) only for failures: a success needs no
        # call, and flush() says how many records are still unconfirmed.
        "delivery.report.only.error": True,
        "delivery.timeout.ms": int(delivery_timeout.total_seconds() * 1000),
    }


def check_resume_offset(topic: str, partition: int, next_offset: int, low: int, high: int) -> None:
    """A recovered offset must lie within the topic's offsets ``[low, high]``; outside, the
    recovery state belongs to another life of the topic and resuming would fail or skip."""
    if low <= next_offset <= high:
        return
    why = (
        "the topic is younger than the recovery state (recreated, e.g. by a purge)"
        if next_offset > high
        else "retention deleted the offsets it would resume from"
    )
    raise SourceError(
        f"orderstream: recovery state does not fit topic {topic!r}: partition {partition} "
        f"would resume at offset {next_offset} but the topic holds offsets {low}..{high}; "
        f"{why}. Reset the dataflow's recovery state with `{RESET_COMMAND}` (it re-reads "
        "the topic from its beginning)"
    )


class CdcSource(FixedPartitionedSource[RawChange, int]):
    """The CDC topic as :class:`RawChange` items; partitions are ``<topic>-<partition>``.

    ``idle_poll``: how long a partition that had nothing waits before it is polled again.
    ``prefetch_kbytes``: how much librdkafka may fetch ahead for each partition.
    ``placement``: the run's workers; with one per process, a process lists only the
    partitions whose per-order state it keeps (placement.py).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        idle_poll: timedelta,
        batch_size: int = BATCH_SIZE[1],
        prefetch_kbytes: int = PREFETCH_KBYTES[1],
        placement: Placement = ONE_WORKER,
    ) -> None:
        self._placement = placement
        self._partitions: list[int] = []  # all of the topic's, once listed
        self._bootstrap_servers = bootstrap_servers
        self._prefetch_kbytes = prefetch_kbytes
        self._topic = topic
        self._batch_size = batch_size
        self._idle_poll = idle_poll

    def list_parts(self) -> list[str]:
        admin = AdminClient({"bootstrap.servers": self._bootstrap_servers})
        metadata = admin.list_topics(self._topic, timeout=30)
        topic = metadata.topics.get(self._topic)
        if topic is None or topic.error is not None:
            error = "unknown topic" if topic is None else topic.error.str()
            raise SourceError(f"cannot list partitions of topic {self._topic!r}: {error}")
        self._partitions = sorted(topic.partitions)
        # With one worker per process, each process lists its own share (placement.py).
        reads = self._placement.reads
        return [f"{self._topic}-{index}" for index in self._partitions if reads(index)]

    def input_channels(self) -> frozenset[int]:
        """The window inputs' channels (routing.input_channels), once partitions are listed."""
        return routing.input_channels(self._partitions, self._placement)

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> CdcPartition:
        topic, _, index = for_part.rpartition("-")
        if topic != self._topic:
            raise SourceError(
                f"recovery data is for topic {topic!r}, the dataflow reads {self._topic!r}"
            )
        return CdcPartition(
            step_id,
            consumer_config(self._bootstrap_servers, self._prefetch_kbytes),
            topic,
            int(index),
            OFFSET_BEGINNING if resume_state is None else resume_state,
            self._batch_size,
            self._idle_poll,
        )


class CdcPartition(StatefulSourcePartition[RawChange, int]):
    def __init__(
        self,
        step_id: str,
        config: dict[str, Any],
        topic: str,
        partition: int,
        next_offset: int,
        batch_size: int,
        idle_poll: timedelta,
    ) -> None:
        self._topic = topic
        self._partition = partition
        self._next_offset = next_offset
        self._batch_size = batch_size
        self._idle_poll = idle_poll
        self._next_awake: datetime | None = None
        self._consumer = Consumer({**config, "stats_cb": self._on_stats})
        if next_offset != OFFSET_BEGINNING:
            low, high = self._consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=30
            )
            check_resume_offset(topic, partition, next_offset, low, high)
        self._lag = BYTEWAX_CONSUMER_LAG_GAUGE.labels(
            step_id=step_id, topic=topic, partition=partition
        )
        self._consumer.assign([TopicPartition(topic, partition, next_offset)])

    def next_batch(self) -> list[RawChange]:
        batch: list[RawChange] = []
        messages = self._consumer.consume(self._batch_size, 0)
        read_at = time.time()
        topic, partition = self._topic, self._partition
        for message in messages:
            error = message.error()
            if error is not None:
                self._handle_error(error)
                continue
            offset = message.offset()
            batch.append(
                RawChange(topic, partition, offset, message.key(), message.value(), read_at)
            )
            self._next_offset = offset + 1
        # Nothing fetched yet: come back after the idle interval. Anything fetched: at once.
        self._next_awake = None if messages else datetime.now(UTC) + self._idle_poll
        return batch

    def next_awake(self) -> datetime | None:
        return self._next_awake

    def snapshot(self) -> int:
        return self._next_offset

    def close(self) -> None:
        self._consumer.close()

    def _handle_error(self, error: KafkaError) -> None:
        if error.code() in TRANSIENT_CONSUMER_ERRORS and not error.fatal():
            log.warning("Kafka consumer of %s[%d]: %s", self._topic, self._partition, error)
            return
        raise SourceError(
            f"reading {self._topic}[{self._partition}] at offset {self._next_offset} failed: "
            f"{error.str()} (code {error.name()}). If the offset was deleted by retention, "
            "the recovery state is older than the topic: see docs/dataflow.md, Recovery."
        )

    def _on_stats(self, stats_json: str) -> None:
        try:
            stats = json.loads(stats_json)["topics"][self._topic]["partitions"]
            end_offset = stats[str(self._partition)]["ls_offset"]
        except (KeyError, ValueError):
            return
        if self._next_offset >= 0 and end_offset >= 0:
            self._lag.set(end_offset - self._next_offset)


class KafkaTopicSink(DynamicSink[OutRecord]):
    """Writes :class:`OutRecord` items to one topic and never drops one silently."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        delivery_timeout: timedelta,
        *,
        observe_latency: bool = False,
    ) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._topic = topic
        self._delivery_timeout = delivery_timeout
        self._observe_latency = observe_latency

    def build(self, step_id: str, worker_index: int, worker_count: int) -> TopicWriter:
        config = producer_config(self._bootstrap_servers, self._delivery_timeout)

        def connect(on_delivery: DeliveryCallback) -> Producer:
            return Producer({**config, "on_delivery": on_delivery})

        # Flush waits a little longer than librdkafka's own delivery timeout, so a record
        # normally fails with its delivery report rather than as "still in flight".
        flush_timeout = self._delivery_timeout + timedelta(seconds=5)
        return TopicWriter(connect, self._topic, flush_timeout, self._observe_latency)


#: How long a new writer waits for its topic's metadata (TopicWriter) before it goes on.
TOPIC_METADATA_WAIT = timedelta(seconds=10)

#: Called by the producer with each failed delivery (``delivery.report.only.error``).
DeliveryCallback = Callable[[KafkaError | None, Message], None]


class TopicWriter(StatelessSinkPartition[OutRecord]):
    """``connect``: makes the producer, given the one delivery callback it reports to (one
    for the producer, not one per record: a per-record callback costs ~0.8 µs more each).

    The writer asks for its topic's metadata when it is built: a producer that does not know
    the topic's partition leaders yet holds the first batch until it does. In bench drains
    the first flush of each sink took 0.4-0.8 s that way, later ones 0.01-0.1 s.
    """

    def __init__(
        self,
        connect: Callable[[DeliveryCallback], Producer],
        topic: str,
        flush_timeout: timedelta,
        observe_latency: bool,
    ) -> None:
        self._failures: list[str] = []
        self._producer = connect(self._on_delivery)
        self._topic = topic
        self._learn_topic()
        self._flush_timeout_s = flush_timeout.total_seconds()
        self._observe_latency = observe_latency

    def _learn_topic(self) -> None:
        try:
            self._producer.list_topics(self._topic, timeout=TOPIC_METADATA_WAIT.total_seconds())
        except KafkaException as err:  # brokers not up yet: the first batch will wait instead
            log.warning("Kafka producer of %s: no topic metadata yet: %s", self._topic, err)

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._failures.append(f"key {message.key()!r}: {error.str()}")

    def write_batch(self, items: list[OutRecord]) -> None:
        produce, topic = self._producer.produce, self._topic
        for record in items:
            try:  # positional (topic, value, key) and no method call per record: faster
                produce(topic, record.value, record.key.encode())
            except BufferError:
                self._produce_when_queued(record)
        self._confirm()
        if self._observe_latency:
            delivered_at = time.time()
            metrics.observe_latency((r.latency for r in items if r.latency), delivered_at)

    def close(self) -> None:
        self._confirm()

    def _produce_when_queued(self, record: OutRecord) -> None:
        """The local queue is full: serve delivery reports until the record fits."""
        while True:
            self._producer.poll(0.1)
            try:
                self._producer.produce(self._topic, record.value, record.key.encode())
            except BufferError:
                continue
            return

    def _confirm(self) -> None:
        remaining = self._producer.flush(self._flush_timeout_s)
        failures, self._failures = self._failures, []
        if failures:
            shown = "; ".join(failures[:5])
            raise DeliveryFailed(
                f"{len(failures)} record(s) to topic {self._topic!r} failed delivery: {shown}"
            )
        if remaining:
            raise DeliveryFailed(
                f"{remaining} record(s) to topic {self._topic!r} still unconfirmed after "
                f"{self._flush_timeout_s:.0f}s"
            )
