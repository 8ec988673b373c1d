"""The baseline's producer must stay configured like the dataflow's: a setting on one side
only (compression, linger, acks) would show up as the dataflow's cost or gain."""

from __future__ import annotations

from datetime import timedelta

from bench import passthrough
from dataflows import kafka_io

#: Settings that only change how the two programs learn about deliveries.
DELIVERY_REPORTING = {"delivery.report.only.error"}


def test_baseline_producer_is_configured_like_the_dataflows() -> None:
    baseline = passthrough.producer_config("b:9092")
    dataflow = kafka_io.producer_config("b:9092", passthrough.DELIVERY_TIMEOUT)
    assert {k: v for k, v in dataflow.items() if k not in DELIVERY_REPORTING} == baseline


def test_both_producers_compress_with_lz4() -> None:
    assert passthrough.producer_config("b:9092")["compression.type"] == "lz4"
    assert kafka_io.producer_config("b:9092", timedelta(seconds=30))["compression.type"] == "lz4"
