"""dataflows.kafka_io with fake clients: nothing is dropped silently."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException
from prometheus_client import REGISTRY

from dataflows.cdc import RawChange
from dataflows.kafka_io import (
    CdcPartition,
    CdcSource,
    DeliveryFailed,
    SourceError,
    TopicWriter,
    consumer_config,
    producer_config,
)
from dataflows.metrics import LATENCY_BUCKETS
from dataflows.placement import Placement
from dataflows.records import LatencyMarks, OutRecord
from dataflows.routing import channel
from orderstream import contract

Callback = Callable[[KafkaError | None, Any], None]


class FakeMessage:
    def __init__(
        self,
        key: bytes | None = None,
        value: bytes | None = None,
        offset: int = 0,
        error: KafkaError | None = None,
    ) -> None:
        self._key, self._value, self._offset, self._error = key, value, offset, error

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def offset(self) -> int:
        return self._offset

    def error(self) -> KafkaError | None:
        return self._error


class FakeProducer:
    def __init__(
        self,
        fail_keys: frozenset[bytes] = frozenset(),
        stuck: int = 0,
        full_times: int = 0,
        metadata_error: KafkaException | None = None,
    ) -> None:
        self.fail_keys, self.stuck, self.full_times = fail_keys, stuck, full_times
        self.metadata_error = metadata_error
        self.metadata_asked: list[str] = []
        self.polls = 0
        self.on_delivery: Callback | None = None  # the producer's one callback
        self.pending: list[bytes] = []
        self.produced: list[tuple[str, bytes, bytes]] = []

    def connect(self, on_delivery: Callback) -> FakeProducer:
        self.on_delivery = on_delivery
        return self

    def list_topics(self, topic: str, timeout: float) -> None:
        self.metadata_asked.append(topic)
        if self.metadata_error is not None:
            raise self.metadata_error

    def produce(self, topic: str, value: bytes, key: bytes) -> None:
        """confluent_kafka's order: ``produce(topic, value, key, ...)``."""
        if self.full_times:
            self.full_times -= 1
            raise BufferError("queue full")
        self.produced.append((topic, key, value))
        self.pending.append(key)

    def poll(self, timeout: float) -> int:
        self.polls += 1
        return 0

    def flush(self, timeout: float) -> int:
        assert self.on_delivery is not None
        for key in self.pending:
            error = KafkaError(KafkaError._MSG_TIMED_OUT) if key in self.fail_keys else None
            self.on_delivery(error, FakeMessage(key=key))
        self.pending = []
        return self.stuck


def writer(producer: FakeProducer, observe_latency: bool = False) -> TopicWriter:
    return TopicWriter(producer.connect, "out", timedelta(seconds=1), observe_latency)


def test_producer_is_idempotent_with_acks_all() -> None:
    config = producer_config("b:9092", timedelta(seconds=30))
    assert config["acks"] == "all"
    assert config["enable.idempotence"] is True
    assert config["delivery.timeout.ms"] == 30_000


def test_producer_batches_are_as_large_as_every_output_topic_takes() -> None:
    config = producer_config("b:9092", timedelta(seconds=30))
    outputs = [t for t in contract.CONTRACT_TOPICS if t.name != contract.TOPIC_CDC]
    assert outputs and all(t.max_message_bytes is not None for t in outputs)
    smallest = min(t.max_message_bytes or 0 for t in outputs)
    assert config["batch.size"] == config["message.max.bytes"] == smallest
    assert smallest > 4_000_000  # a 10,000-change source batch of processed records


def test_consumer_fails_instead_of_resetting_offsets() -> None:
    config = consumer_config("b:9092")
    assert config["auto.offset.reset"] == "error"
    assert config["enable.auto.commit"] is False


def test_prefetch_is_capped_per_partition_by_the_setting() -> None:
    assert consumer_config("b:9092", prefetch_kbytes=2048)["queued.max.messages.kbytes"] == 2048
    source = CdcSource("b:9092", "cdc", timedelta(milliseconds=5), prefetch_kbytes=1024)
    assert source._prefetch_kbytes == 1024


def test_batch_is_produced_and_confirmed() -> None:
    producer = FakeProducer(full_times=3)  # the first record waits for room three times
    writer(producer).write_batch([OutRecord("k1", b"v1"), OutRecord("k2", b"v2")])
    assert producer.produced == [("out", b"k1", b"v1"), ("out", b"k2", b"v2")]
    assert producer.polls == 3
    assert producer.pending == []


def test_writer_learns_its_topic_before_the_first_batch() -> None:
    producer = FakeProducer()
    writer(producer)
    assert producer.metadata_asked == ["out"]


def test_writer_without_topic_metadata_still_writes() -> None:
    producer = FakeProducer(metadata_error=KafkaException(KafkaError(KafkaError._TRANSPORT)))
    out = writer(producer)
    assert producer.metadata_asked == ["out"]
    out.write_batch([OutRecord("k1", b"v1")])
    assert producer.produced == [("out", b"k1", b"v1")]


def test_a_failed_delivery_stops_the_dataflow() -> None:
    producer = FakeProducer(fail_keys=frozenset({b"k2"}))
    with pytest.raises(DeliveryFailed, match="1 record.*'out'.*k2"):
        writer(producer).write_batch([OutRecord("k1", b"v1"), OutRecord("k2", b"v2")])


def test_an_unconfirmed_delivery_stops_the_dataflow() -> None:
    with pytest.raises(DeliveryFailed, match="2 record.*unconfirmed"):
        writer(FakeProducer(stuck=2)).write_batch([OutRecord("k1", b"v1")])


LATENCY_METRICS = (
    "orders_e2e_latency_seconds",
    "orders_capture_latency_seconds",
    "orders_dataflow_latency_seconds",
)


def latency_samples() -> dict[str, tuple[float, float]]:
    """(count, sum) of each latency histogram."""
    return {
        name: (
            REGISTRY.get_sample_value(f"{name}_count") or 0.0,
            REGISTRY.get_sample_value(f"{name}_sum") or 0.0,
        )
        for name in LATENCY_METRICS
    }


def test_latency_is_observed_per_stage_after_confirmed_delivery() -> None:
    now = time.time()
    marks = LatencyMarks(committed_at=now - 0.5, captured_at=now - 0.2, read_at=now - 0.1)
    deleted = LatencyMarks(committed_at=None, captured_at=now - 0.2, read_at=now - 0.1)
    before = latency_samples()
    writer(FakeProducer(), observe_latency=True).write_batch(
        [OutRecord("1", b"v", marks), OutRecord("2", b"v", deleted), OutRecord("3", b"v")]
    )
    after = latency_samples()
    counts = {name: after[name][0] - before[name][0] for name in LATENCY_METRICS}
    sums = {name: after[name][1] - before[name][1] for name in LATENCY_METRICS}
    assert counts == {
        "orders_e2e_latency_seconds": 1,
        "orders_capture_latency_seconds": 2,
        "orders_dataflow_latency_seconds": 2,
    }
    assert sums["orders_e2e_latency_seconds"] == pytest.approx(0.5, abs=0.05)
    assert sums["orders_capture_latency_seconds"] == pytest.approx(0.4, abs=0.1)
    assert sums["orders_dataflow_latency_seconds"] == pytest.approx(0.2, abs=0.1)


def test_latency_buckets_are_fine_below_100_ms() -> None:
    below = [b for b in LATENCY_BUCKETS if b <= 0.1]
    assert len(below) >= 10 and below[0] <= 0.001
    assert all(b - a <= 0.025 + 1e-9 for a, b in itertools.pairwise(below))


def test_nothing_is_observed_when_a_delivery_fails() -> None:
    now = time.time()
    before = latency_samples()
    with pytest.raises(DeliveryFailed):
        writer(FakeProducer(fail_keys=frozenset({b"1"})), observe_latency=True).write_batch(
            [OutRecord("1", b"v", LatencyMarks(now, now, now))]
        )
    assert latency_samples() == before


class FakeConsumer:
    def __init__(self, messages: list[FakeMessage]) -> None:
        self.messages = messages
        self.timeouts: list[float] = []

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        self.timeouts.append(timeout)
        batch, self.messages = self.messages[:num_messages], self.messages[num_messages:]
        return batch


def partition(messages: list[FakeMessage], next_offset: int = OFFSET_BEGINNING) -> CdcPartition:
    part = object.__new__(CdcPartition)
    part._topic, part._partition, part._next_offset, part._batch_size = "cdc", 4, next_offset, 10
    part._idle_poll = timedelta(milliseconds=5)
    part._next_awake = None
    part._consumer = FakeConsumer(messages)
    return part


def test_a_batch_holds_at_most_the_batch_size_setting() -> None:
    source = CdcSource("b:9092", "cdc", timedelta(milliseconds=5), batch_size=3)
    part = source.build_part("read_cdc", "cdc-0", None)
    try:
        assert part._batch_size == 3
    finally:
        part.close()
    backlog = partition([FakeMessage(b"k", b"v", offset) for offset in range(25)])
    assert [len(backlog.next_batch()) for _ in range(4)] == [10, 10, 5, 0]


def test_source_never_blocks_and_an_empty_partition_waits_the_idle_interval() -> None:
    consumer = FakeConsumer([])
    part = partition([])
    part._consumer = consumer
    before = datetime.now(UTC)
    assert part.next_batch() == []
    awake = part.next_awake()
    assert awake is not None
    assert before + timedelta(milliseconds=5) <= awake <= datetime.now(UTC) + timedelta(
        milliseconds=5
    )
    consumer.messages = [FakeMessage(b"k", b"v", 1)]
    assert len(part.next_batch()) == 1
    assert part.next_awake() is None  # something came: poll again at once
    assert consumer.timeouts == [0, 0]


def test_source_reads_raw_changes_and_keeps_the_next_offset() -> None:
    transient = KafkaError(KafkaError._TRANSPORT, "broker restarting", fatal=False)
    part = partition(
        [FakeMessage(b"k", b"v", 7), FakeMessage(error=transient), FakeMessage(None, None, 8)]
    )
    assert part.snapshot() == OFFSET_BEGINNING
    started = time.time()
    batch = part.next_batch()
    assert [msgspec.structs.replace(raw, read_at=None) for raw in batch] == [
        RawChange("cdc", 4, 7, b"k", b"v"),
        RawChange("cdc", 4, 8, None, None),
    ]
    assert all(r.read_at is not None and started <= r.read_at <= time.time() for r in batch)
    assert part.snapshot() == 9


@pytest.mark.parametrize(
    "error",
    [
        KafkaError(KafkaError._AUTO_OFFSET_RESET),
        KafkaError(KafkaError.OFFSET_OUT_OF_RANGE),
        KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART),
        KafkaError(KafkaError._TRANSPORT, "fatal", fatal=True),
    ],
)
def test_source_stops_on_a_lost_offset_or_any_non_transient_error(error: KafkaError) -> None:
    part = partition([FakeMessage(error=error)], next_offset=1234)
    with pytest.raises(SourceError, match=r"cdc\[4\] at offset 1234"):
        part.next_batch()


def test_recovery_state_of_another_topic_is_refused() -> None:
    with pytest.raises(SourceError, match="other-topic"):
        source = CdcSource("b:9092", "cdc", timedelta(milliseconds=5))
        source.build_part("read_cdc", "other-topic-0", 5)


class FakeAdmin:
    """``AdminClient`` listing a topic of six partitions."""

    def __init__(self, config: dict[str, str]) -> None:
        pass

    def list_topics(self, topic: str, timeout: float) -> Any:
        partitions = dict.fromkeys(range(6))
        return SimpleNamespace(topics={topic: SimpleNamespace(partitions=partitions, error=None)})


def test_each_process_of_one_worker_lists_its_own_partitions_and_knows_every_channel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("dataflows.kafka_io.AdminClient", FakeAdmin)
    second = Placement(processes=2, process_id=1)
    source = CdcSource("b:9092", "cdc", timedelta(milliseconds=5), placement=second)
    assert source.input_channels() == frozenset()  # not listed yet: nothing to wait for
    assert source.list_parts() == ["cdc-1", "cdc-3", "cdc-5"]
    assert source.input_channels() == {channel(p, p % 2) for p in range(6)}
    alone = CdcSource("b:9092", "cdc", timedelta(milliseconds=5))
    assert alone.list_parts() == [f"cdc-{p}" for p in range(6)]
