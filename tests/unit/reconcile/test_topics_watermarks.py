"""Reading a topic's watermarks survives a partition's leader change, and only that."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from orderstream.reconcile import topics


class FakeConsumer:
    def __init__(self, failures: list[int]) -> None:
        self.failures = failures
        self.calls = 0

    def get_watermark_offsets(
        self, tp: TopicPartition, timeout: float, cached: bool
    ) -> tuple[int, int]:
        self.calls += 1
        if self.failures:
            raise KafkaException(KafkaError(self.failures.pop(0)))
        return 3, 42


def test_a_leader_change_is_waited_out() -> None:
    consumer = FakeConsumer([KafkaError.OFFSET_NOT_AVAILABLE, KafkaError.NOT_LEADER_FOR_PARTITION])
    tp = TopicPartition("t", 0)
    assert topics._watermarks(consumer, tp, seconds=10) == (3, 42)
    assert consumer.calls == 3


def test_other_errors_are_not_retried() -> None:
    consumer = FakeConsumer([KafkaError.UNKNOWN_TOPIC_OR_PART])
    with pytest.raises(KafkaException):
        topics._watermarks(consumer, TopicPartition("t", 0), seconds=10)
    assert consumer.calls == 1


def test_the_wait_is_bounded() -> None:
    consumer = FakeConsumer([KafkaError.OFFSET_NOT_AVAILABLE] * 1000)
    with pytest.raises(KafkaException):
        topics._watermarks(consumer, TopicPartition("t", 0), seconds=0.3)
    assert 1 < consumer.calls < 1000
