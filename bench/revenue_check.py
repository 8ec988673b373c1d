"""Sanity check: the last revenue record per key equals the totals of the change log."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from bench.expected import WindowRevenue
from bench.kafka_topics import BenchTopic

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class RevenueCheck:
    expected_windows: int
    output_windows: int
    matching_windows: int
    missing: list[str]  # expected keys without a record (yet)
    differing: list[str]  # keys whose last record differs from the change log
    unexpected: list[str]  # records for windows the change log has no revenue in
    max_revision: int
    records_read: int
    #: Records that correct an earlier one (revision > 1). With no late input every one of
    #: them is spurious: a watermark that ran ahead of a partition still being drained.
    corrections: int = 0
    #: The same count for order-status-transitions-1m (filled in after the revenue settled).
    transition_records: int = 0
    transition_corrections: int = 0

    @property
    def aggregate_corrections_share(self) -> float:
        """Corrections among all window records of both aggregate topics."""
        records = self.records_read + self.transition_records
        corrections = self.corrections + self.transition_corrections
        return corrections / records if records else 0.0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.differing or self.unexpected)


def last_records(bootstrap_servers: str, topic: BenchTopic) -> tuple[dict[str, Any], int, int]:
    """``({key: last value}, records read, corrections read)`` of the whole topic as it is
    now."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": "bench-revenue-check-unused",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    ends = {}
    for partition in range(topic.partitions):
        _low, high = consumer.get_watermark_offsets(TopicPartition(topic.name, partition), 30)
        ends[partition] = high
    pending = {p for p, high in ends.items() if high > 0}
    consumer.assign([TopicPartition(topic.name, p, OFFSET_BEGINNING) for p in pending])
    latest: dict[str, Any] = {}
    read = corrections = 0
    while pending:
        for message in consumer.consume(1000, 1.0):
            if message.error() is None:
                value = orjson.loads(message.value())
                latest[message.key().decode()] = value
                read += 1
                corrections += int(value["revision"]) > 1
            if message.offset() is not None and message.offset() + 1 >= ends[message.partition()]:
                pending.discard(message.partition())
    consumer.close()
    return latest, read, corrections


def with_transitions(
    check: RevenueCheck, bootstrap_servers: str, topic: BenchTopic
) -> RevenueCheck:
    """``check`` with the records and corrections of the transitions topic counted."""
    _latest, read, corrections = last_records(bootstrap_servers, topic)
    return dataclasses.replace(check, transition_records=read, transition_corrections=corrections)


def check_revenue(
    bootstrap_servers: str, topic: BenchTopic, expected: Mapping[str, WindowRevenue]
) -> RevenueCheck:
    latest, read, corrections = last_records(bootstrap_servers, topic)
    return compare(expected, latest, read, corrections)


def compare(
    expected: Mapping[str, WindowRevenue],
    latest: Mapping[str, Any],
    records_read: int,
    corrections: int = 0,
) -> RevenueCheck:
    missing = sorted(k for k in expected if k not in latest)
    unexpected = sorted(k for k in latest if k not in expected)
    differing = sorted(k for k in expected if k in latest and not _same(expected[k], latest[k]))
    present = len(expected) - len(missing)
    return RevenueCheck(
        expected_windows=len(expected),
        output_windows=len(latest),
        matching_windows=present - len(differing),
        missing=missing,
        differing=differing,
        unexpected=unexpected,
        max_revision=max((int(v["revision"]) for v in latest.values()), default=0),
        records_read=records_read,
        corrections=corrections,
    )


def _same(window: WindowRevenue, record: Mapping[str, Any]) -> bool:
    return (
        Decimal(record["gross"]) == window.gross.quantize(_CENT)
        and Decimal(record["refunds"]) == window.refunds.quantize(_CENT)
        and Decimal(record["adjustments"]) == window.adjustments.quantize(_CENT)
        and Decimal(record["net"]) == window.net.quantize(_CENT)
        and record["paid_count"] == window.paid_count
        and record["refund_count"] == window.refund_count
    )
