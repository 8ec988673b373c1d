"""dataflows.records: the fixed wire formats of the output topics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import msgspec
import orjson
import pytest

from dataflows.cdc import DeadLetter, Op, RawChange, Reason
from dataflows.dedupe import TrackedChange
from dataflows.records import (
    LatencyMarks,
    dead_letter,
    iso,
    latency_marks,
    money,
    processed_order,
    revenue_window,
    seconds,
    transitions_window,
)
from dataflows.revenue import RevenueTotals
from dataflows.transitions import TransitionStats
from dataflows.windows import WindowResult
from tests.unit.dataflows.order_changes import NOW, at, img, update

START = datetime(2026, 11, 25, 0, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("amount", "text"),
    [("12.5", "12.50"), ("0", "0.00"), ("-0.00", "0.00"), ("-2.50", "-2.50"), ("1E+3", "1000.00")],
)
def test_money_has_exactly_two_decimals(amount: str, text: str) -> None:
    assert money(Decimal(amount)) == text


def test_iso_is_utc_with_offset() -> None:
    assert iso(START) == "2026-11-25T00:01:00+00:00"
    assert iso(START.astimezone(timezone(timedelta(hours=9)))) == "2026-11-25T00:01:00+00:00"
    assert iso(START + timedelta(microseconds=5)) == "2026-11-25T00:01:00.000005+00:00"
    with pytest.raises(ValueError):
        iso(datetime(2026, 11, 25))


def test_seconds_are_rounded_to_milliseconds() -> None:
    assert seconds(1234) == 1.234
    assert seconds(None) is None


def test_processed_order_record() -> None:
    change = update(
        img("PENDING", 1, 5, "10.00", order_id=9), img("SHIPPED", 2, 20, "10.5", order_id=9)
    )
    record = processed_order(TrackedChange(change, ("illegal_transition",), None), NOW)
    assert record.key == "9"
    assert record.latency == LatencyMarks(at(20).timestamp(), None, None)
    assert orjson.loads(record.value) == {
        "order_id": 9,
        "version": 2,
        "op": "u",
        "status": "SHIPPED",
        "previous_status": "PENDING",
        "customer_id": 7,
        "total_amount": "10.50",
        "currency": "USD",
        "created_at": "2026-11-25T00:00:00+00:00",
        "updated_at": iso(at(20)),
        "source_ts_ms": 1_000,
        "source_position": change.source_position,
        "processed_at": "2030-01-01T00:00:00+00:00",
        "anomalies": ["illegal_transition"],
    }


def test_latency_marks_start_at_the_commit_only_for_inserts_and_updates() -> None:
    before, after = img("PAID", 1, 5, "10.00"), img("SHIPPED", 2, 20, "10.00")
    change = msgspec.structs.replace(
        update(before, after),
        captured_us=1_795_564_805_300_123,
        raw=RawChange("mysql-orders", 0, 1, None, b"{}", read_at=1_795_564_805.5),
    )
    marks = latency_marks(change)
    assert marks.committed_at == at(20).timestamp()  # the change's own updated_at
    assert marks.captured_at == pytest.approx(1_795_564_805.300123, abs=1e-6)
    assert marks.read_at == 1_795_564_805.5
    deleted = msgspec.structs.replace(change, op=Op.DELETE, after=None)
    snapshot = msgspec.structs.replace(change, op=Op.READ, before=None)
    assert latency_marks(deleted).committed_at is None  # the image's updated_at is older
    assert latency_marks(snapshot).committed_at is None
    assert latency_marks(deleted).captured_at == marks.captured_at


def test_revenue_window_record() -> None:
    totals = RevenueTotals(Decimal("30"), Decimal("5.5"), Decimal("-0.25"), 3, 1)
    record = revenue_window("EUR", WindowResult(START, START + timedelta(minutes=1), totals, 2))
    assert record.key == "2026-11-25T00:01:00+00:00|EUR"
    assert orjson.loads(record.value) == {
        "window_start": "2026-11-25T00:01:00+00:00",
        "window_end": "2026-11-25T00:02:00+00:00",
        "currency": "EUR",
        "gross": "30.00",
        "refunds": "5.50",
        "adjustments": "-0.25",
        "net": "24.25",
        "paid_count": 3,
        "refund_count": 1,
        "revision": 2,
    }


def test_transitions_window_record() -> None:
    stats = TransitionStats.of(count=4, untimed_count=1, durations_ms=(1500, 250, 60001))
    record = transitions_window(
        "PAID|SHIPPED", WindowResult(START, START + timedelta(minutes=1), stats, 1)
    )
    assert record.key == "2026-11-25T00:01:00+00:00|PAID|SHIPPED"
    assert orjson.loads(record.value) == {
        "window_start": "2026-11-25T00:01:00+00:00",
        "window_end": "2026-11-25T00:02:00+00:00",
        "from_status": "PAID",
        "to_status": "SHIPPED",
        "count": 4,
        "timed_count": 3,
        "untimed_count": 1,
        "p50_seconds": 1.5,
        "p95_seconds": 60.001,
        "max_seconds": 60.001,
        "revision": 1,
    }
    untimed = TransitionStats(count=1, untimed_count=1)
    value = orjson.loads(
        transitions_window("PAID|SHIPPED", WindowResult(START, START, untimed, 1)).value
    )
    assert (value["p50_seconds"], value["p95_seconds"], value["max_seconds"]) == (None, None, None)


def test_dead_letter_record() -> None:
    raw = RawChange("mysql-orders", 4, 1234, b'{"id":1}', b"\x00junk")
    record = dead_letter(DeadLetter(Reason.NOT_JSON, "value is not JSON", raw), NOW)
    assert record.key == "mysql-orders/4/1234"
    assert orjson.loads(record.value) == {
        "reason": "not_json",
        "detail": "value is not JSON",
        "source_topic": "mysql-orders",
        "source_partition": 4,
        "source_offset": 1234,
        "raw_key": "eyJpZCI6MX0=",
        "raw_value": "AGp1bms=",
        "failed_at": "2030-01-01T00:00:00+00:00",
    }
    no_key = dead_letter(DeadLetter(Reason.NOT_JSON, "x", RawChange("t", 0, 1, None, b"x")), NOW)
    assert orjson.loads(no_key.value)["raw_key"] is None
