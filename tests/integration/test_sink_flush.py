"""The dataflow's sink confirms each batch without waiting out ``linger.ms``.

``dataflows.settings.PRODUCER_SETTINGS`` sets a ``linger.ms`` far longer than a batch takes
to produce, so that a batch leaves as one request per partition; that costs no latency only
because the flush at the end of every ``write_batch`` sends at once. Here the linger is a
minute: a flush that honoured it would hold the batch for that minute.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from confluent_kafka import Producer

from dataflows.kafka_io import DeliveryCallback, TopicWriter, producer_config
from dataflows.records import OutRecord
from orderstream.settings import Settings
from tests.integration.conftest import TopicTail

LINGER = timedelta(minutes=1)


@pytest.fixture
def tail(settings: Settings, scratch_topic: str) -> Iterator[TopicTail]:
    reader = TopicTail(settings, scratch_topic)
    yield reader
    reader.close()


def test_a_batch_is_confirmed_long_before_the_linger_is_over(
    settings: Settings, scratch_topic: str, tail: TopicTail
) -> None:
    # librdkafka wants the delivery timeout longer than the linger.
    delivery_timeout = LINGER + timedelta(seconds=30)
    config = producer_config(settings.bootstrap_servers, delivery_timeout)

    def connect(on_delivery: DeliveryCallback) -> Producer:
        linger_ms = int(LINGER.total_seconds() * 1000)
        return Producer({**config, "linger.ms": linger_ms, "on_delivery": on_delivery})

    flush_timeout = delivery_timeout + timedelta(seconds=5)
    writer = TopicWriter(connect, scratch_topic, flush_timeout, observe_latency=False)
    records = [OutRecord(str(key), b'{"n": %d}' % key) for key in range(20)]
    started = time.monotonic()
    writer.write_batch(records)  # returns once every record is confirmed (or raises)
    elapsed = time.monotonic() - started
    writer.close()

    assert elapsed < LINGER.total_seconds() / 2, f"write_batch took {elapsed:.1f} s"
    seen = tail.poll_for("the batch on the topic", lambda events: len(events) >= 20, timeout=30)
    assert sorted(int(event.key) for event in seen) == list(range(20))
