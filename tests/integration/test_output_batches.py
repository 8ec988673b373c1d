"""Output batches: one request per partition, and topics that take them however they compress.

``dataflows.settings.PRODUCER_SETTINGS`` lets a producer put a partition's share of a sink
batch into one request of up to ``contract.OUTPUT_BATCH_BYTES``; the output topics take
record batches that large (``max.message.bytes``), set when ``ensure_topics`` creates them
and raised on topics created before.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from dataflows.kafka_io import DeliveryCallback, DeliveryFailed, TopicWriter, producer_config
from dataflows.records import OutRecord
from orderstream.contract import OUTPUT_BATCH_BYTES, TopicSpec
from orderstream.settings import Settings
from orderstream.stack.kafka_admin import MAX_MESSAGE_BYTES, ensure_topics
from tests.integration.conftest import TopicTail, broker_admins, led, poll_until

DELIVERY_TIMEOUT = timedelta(seconds=60)
#: Like a processed-orders record (~400 bytes of JSON); 10,000 of them are a source batch
#: of one partition at the dataflow's default batch size, ~4 MB.
PROCESSED_LIKE = {
    "order_id": 0,
    "customer_id": 12345,
    "status": "PAID",
    "amount": "1234.56",
    "currency": "EUR",
    "created_at": "2026-12-04T10:00:00.000000Z",
    "changed_at": "2026-12-04T10:00:01.000000Z",
    "version": 3,
    "source": {"topic": "mysql-orders", "partition": 0, "offset": 123456789},
    "note": "x" * 150,
}


@pytest.fixture
def make_topic(settings: Settings, admin: AdminClient) -> Iterator[Callable[[int | None], str]]:
    """Creates one-partition topics through ``ensure_topics``, with the given
    ``max_message_bytes`` (None: the broker's default), and waits until every broker knows
    them; deletes them after the test."""
    made: list[str] = []
    per_broker = broker_admins(settings)

    def make(max_message_bytes: int | None) -> str:
        name = f"test-batches-{uuid.uuid4().hex[:12]}"
        ensure_topics(admin, [TopicSpec(name, 1, "delete", max_message_bytes=max_message_bytes)])
        made.append(name)
        poll_until(
            "every broker to know the new topic",
            lambda: all(led(broker, name) and described(broker, name) for broker in per_broker),
            timeout=30,
        )
        return name

    yield make
    if made:
        admin.delete_topics(made, operation_timeout=30)


class Writer:
    """A dataflow sink writer on ``topic`` with the dataflow's producer settings; keeps the
    producer's statistics."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.stats: list[dict[str, Any]] = []
        self.producer: Producer | None = None
        config = producer_config(settings.bootstrap_servers, DELIVERY_TIMEOUT)

        def connect(on_delivery: DeliveryCallback) -> Producer:
            self.producer = Producer(
                {
                    **config,
                    "on_delivery": on_delivery,
                    "statistics.interval.ms": 100,
                    "stats_cb": lambda raw: self.stats.append(json.loads(raw)),
                }
            )
            return self.producer

        self.sink = TopicWriter(connect, topic, DELIVERY_TIMEOUT + timedelta(seconds=5), False)

    def produce_requests(self, records: int) -> int:
        """Produce requests sent so far, once the statistics count ``records`` sent."""
        assert self.producer is not None
        producer = self.producer

        def counted() -> bool:
            producer.poll(0.1)
            return bool(self.stats) and self.stats[-1]["txmsgs"] >= records

        poll_until("statistics counting every record", counted, timeout=30, interval=0.1)
        brokers = self.stats[-1]["brokers"].values()
        return sum(broker["req"].get("Produce", 0) for broker in brokers)


def processed_like(count: int) -> list[OutRecord]:
    return [
        OutRecord(str(n), json.dumps({**PROCESSED_LIKE, "order_id": n}).encode())
        for n in range(count)
    ]


def test_a_partitions_share_of_a_sink_batch_leaves_as_one_request(
    settings: Settings, make_topic: Callable[[int | None], str]
) -> None:
    records = processed_like(10_000)
    size = sum(len(r.value) for r in records)
    assert size > 3_000_000, "the batch must exceed librdkafka's default batch.size (1 MB)"
    writer = Writer(settings, make_topic(OUTPUT_BATCH_BYTES))
    writer.sink.write_batch(records)
    requests = writer.produce_requests(len(records))
    writer.sink.close()
    assert requests == 1, f"{size:,} bytes for one partition left as {requests} requests"


def test_a_batch_that_does_not_compress_fits_an_output_topic(
    settings: Settings, make_topic: Callable[[int | None], str]
) -> None:
    # 3 MB of random hex: JSON that lz4 (matches only, no entropy coding) cannot shrink.
    records = [OutRecord(str(n), json.dumps(os.urandom(500).hex()).encode()) for n in range(3000)]

    # The broker's default refuses the batch: this is what the topics' setting is for.
    plain = Writer(settings, make_topic(None))
    with pytest.raises(DeliveryFailed, match="too large"):
        plain.sink.write_batch(records)

    topic = make_topic(OUTPUT_BATCH_BYTES)
    tail = TopicTail(settings, topic)  # reads what comes after now
    writer = Writer(settings, topic)
    writer.sink.write_batch(records)  # raises unless every record is confirmed
    writer.sink.close()
    try:
        seen = tail.poll_for("the batch", lambda events: len(events) >= 3000, timeout=60)
    finally:
        tail.close()
    assert sorted(int(event.key) for event in seen) == list(range(3000))


def described(admin: AdminClient, topic: str) -> bool:
    """Whether the broker answering describes the topic yet (creation takes a moment)."""
    try:
        max_message_bytes(admin, topic)
    except KafkaException:
        return False
    return True


def max_message_bytes(admin: AdminClient, topic: str) -> int:
    resource = ConfigResource(ResourceType.TOPIC, topic)
    return int(admin.describe_configs([resource])[resource].result()[MAX_MESSAGE_BYTES].value)


def test_ensure_topics_raises_the_limit_of_a_topic_created_before_it(
    admin: AdminClient, make_topic: Callable[[int | None], str]
) -> None:
    older = make_topic(None)  # as created before the contract set the limit
    default = max_message_bytes(admin, older)
    assert default < OUTPUT_BATCH_BYTES

    spec = TopicSpec(older, 1, "delete", max_message_bytes=OUTPUT_BATCH_BYTES)
    notes = ensure_topics(admin, [spec])
    assert notes == [
        f"raised {MAX_MESSAGE_BYTES} of topic {older} from {default} to {OUTPUT_BATCH_BYTES}"
    ]
    poll_until(
        "the raised limit in the topic's config",
        lambda: max_message_bytes(admin, older) == OUTPUT_BATCH_BYTES,
        timeout=30,
    )
    assert ensure_topics(admin, [spec]) == []  # nothing left to do

    larger = make_topic(2 * OUTPUT_BATCH_BYTES)  # never lowered
    same_spec = TopicSpec(larger, 1, "delete", max_message_bytes=OUTPUT_BATCH_BYTES)
    assert ensure_topics(admin, [same_spec]) == []
    assert max_message_bytes(admin, larger) == 2 * OUTPUT_BATCH_BYTES
