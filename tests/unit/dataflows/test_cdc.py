"""dataflows.cdc: Debezium envelope -> OrderChange, DeadLetter or Tombstone."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest

from bench.offline import raw_changes
from dataflows import cdc, envelope, placement
from dataflows.cdc import (
    DeadLetter,
    Op,
    OrderChange,
    RawChange,
    Reason,
    Tombstone,
    parse_change,
)
from dataflows.order_buckets import ORDERS_PER_BUCKET
from dataflows.routing import parse_batch
from dataflows.utc import HIGHEST_MICROS, LOWEST_MICROS, from_micros
from orderstream.contract import OrderStatus

# 2026-11-25T00:00:05.123456Z as Debezium's MicroTimestamp
UPDATED_US = 1_795_564_805_123_456
UPDATED = datetime(2026, 11, 25, 0, 0, 5, 123456, tzinfo=UTC)
CREATED_US = 1_795_564_800_000_000
CREATED = datetime(2026, 11, 25, 0, 0, 0, tzinfo=UTC)


def image(**overrides: Any) -> dict[str, Any]:
    row = {
        "id": 42,
        "customer_id": 7,
        "status": "PAID",
        "total_amount": "12.50",
        "currency": "EUR",
        "version": 3,
        "created_at": CREATED_US,
        "updated_at": UPDATED_US,
    }
    row.update(overrides)
    return row


def event(op: str = "u", **images: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "before": image(status="PENDING", version=2, updated_at=CREATED_US),
        "after": image(),
        "source": {"ts_ms": 1_795_564_805_200, "file": "mariadb-bin.000003", "pos": 991, "row": 1},
        "op": op,
        "ts_ms": 1_795_564_805_300,
    }
    document.update(images)
    return document


def raw(value: Any) -> RawChange:
    encoded = value if isinstance(value, bytes) or value is None else orjson.dumps(value)
    return RawChange("mysql-orders", 2, 17, b'{"id":42}', encoded)


def test_update_parses_to_typed_images() -> None:
    change = parse_change(raw(event()))
    assert isinstance(change, OrderChange)
    assert change.op is Op.UPDATE
    assert change.after is not None and change.before is not None
    assert change.after.status is OrderStatus.PAID
    assert change.before.status is OrderStatus.PENDING
    assert change.after.total_amount == Decimal("12.50")
    assert change.after.updated_at == UPDATED  # epoch microseconds -> aware UTC
    assert change.after.created_at == CREATED
    assert change.event_time == UPDATED
    assert change.order_id == 42 and change.version == 3
    assert change.source_ts_ms == 1_795_564_805_200
    assert change.source_position == "mariadb-bin.000003:991:1"
    assert change.from_status is OrderStatus.PENDING
    assert change.raw.coordinates == "mysql-orders/2/17"
    assert change.captured_us == 1_795_564_805_300_000  # the envelope's ts_ms: no ts_us here


def test_capture_time_prefers_the_envelopes_microseconds() -> None:
    change = parse_change(raw({**event(), "ts_us": 1_795_564_805_300_123}))
    assert isinstance(change, OrderChange)
    assert change.captured_us == 1_795_564_805_300_123
    without = {k: v for k, v in event().items() if k != "ts_ms"}
    change = parse_change(raw(without))
    assert isinstance(change, OrderChange) and change.captured_us is None


def test_insert_and_snapshot_need_only_after() -> None:
    for op in ("c", "r"):
        change = parse_change(raw(event(op, before=None)))
        assert isinstance(change, OrderChange)
        assert change.before is None and change.from_status is None
        assert change.op == Op(op)


def test_delete_uses_the_before_image_for_event_time_and_version() -> None:
    before = image(status="CANCELLED", version=5, updated_at=UPDATED_US)
    change = parse_change(raw(event("d", before=before, after=None)))
    assert isinstance(change, OrderChange)
    assert change.after is None
    assert change.event_time == UPDATED and change.version == 5
    assert change.image.status is OrderStatus.CANCELLED


def test_iso_timestamps_are_accepted_as_utc() -> None:
    after = image(updated_at="2026-11-25T00:00:05.123456", created_at="2026-11-25T01:00:00+01:00")
    change = parse_change(raw(event("c", before=None, after=after)))
    assert isinstance(change, OrderChange) and change.after is not None
    assert change.after.updated_at == UPDATED
    assert change.after.created_at == CREATED
    assert change.after.created_at.tzinfo is UTC


def test_null_value_is_a_tombstone() -> None:
    record = raw(None)
    assert parse_change(record) == Tombstone(record)


def _mutated(path: tuple[str, str], value: Any) -> dict[str, Any]:
    document = copy.deepcopy(event())
    if value is _DROP:
        del document[path[0]][path[1]]
    else:
        document[path[0]][path[1]] = value
    return document


_DROP = object()

BAD_RECORDS: list[tuple[Any, Reason]] = [
    (b"{not json", Reason.NOT_JSON),
    (b"\xff\xfe", Reason.NOT_JSON),
    ([1, 2], Reason.BAD_ENVELOPE),
    ({**event(), "op": "t"}, Reason.BAD_ENVELOPE),
    ({**event(), "after": None}, Reason.BAD_ENVELOPE),
    ({**event("d"), "before": None}, Reason.BAD_ENVELOPE),
    ({k: v for k, v in event().items() if k != "source"}, Reason.BAD_ENVELOPE),
    ({"schema": {}, "payload": event()}, Reason.BAD_ENVELOPE),
    (_mutated(("after", "id"), _DROP), Reason.MISSING_FIELD),
    (_mutated(("after", "status"), None), Reason.MISSING_FIELD),
    (_mutated(("after", "version"), _DROP), Reason.MISSING_FIELD),
    (_mutated(("before", "total_amount"), _DROP), Reason.MISSING_FIELD),
    (_mutated(("after", "id"), "42"), Reason.BAD_FIELD),
    (_mutated(("before", "id"), 43), Reason.BAD_FIELD),
    (_mutated(("after", "status"), "LOST"), Reason.UNKNOWN_STATUS),
    (_mutated(("before", "status"), "paid"), Reason.UNKNOWN_STATUS),
    (_mutated(("after", "total_amount"), "12,50"), Reason.BAD_AMOUNT),
    (_mutated(("after", "total_amount"), 12.5), Reason.BAD_AMOUNT),
    (_mutated(("after", "total_amount"), "NaN"), Reason.BAD_AMOUNT),
    (_mutated(("after", "total_amount"), "-1.00"), Reason.BAD_AMOUNT),
    (_mutated(("after", "total_amount"), "1.005"), Reason.BAD_AMOUNT),
    (_mutated(("after", "currency"), "usd"), Reason.BAD_CURRENCY),
    (_mutated(("after", "currency"), "EURO"), Reason.BAD_CURRENCY),
    (_mutated(("after", "version"), 0), Reason.BAD_VERSION),
    (_mutated(("after", "version"), "3"), Reason.BAD_VERSION),
    (_mutated(("after", "version"), True), Reason.BAD_VERSION),
    (_mutated(("after", "updated_at"), "yesterday"), Reason.BAD_TIMESTAMP),
    (_mutated(("after", "updated_at"), 1.5), Reason.BAD_TIMESTAMP),
    (_mutated(("after", "updated_at"), 2**62), Reason.BAD_TIMESTAMP),
    (_mutated(("before", "created_at"), HIGHEST_MICROS + 1), Reason.BAD_TIMESTAMP),
    (_mutated(("after", "created_at"), LOWEST_MICROS - 1), Reason.BAD_TIMESTAMP),
]


@pytest.mark.parametrize("edge", [LOWEST_MICROS, HIGHEST_MICROS])
def test_the_first_and_last_instants_a_datetime_holds_take_the_typed_path(edge: int) -> None:
    record = raw(_mutated(("after", "created_at"), edge))
    assert record.value is not None
    decoded = envelope.decode(record.value)
    assert decoded is not None  # the decoder's bounds are datetime's, not narrower
    change = cdc._usual_change(decoded, record)
    assert change is not None and change == cdc._parse_checked(record)
    assert change.image.created_us == edge
    assert change.image.created_at == from_micros(edge) and change.image.created_at.tzinfo is UTC


@pytest.mark.parametrize(("value", "reason"), BAD_RECORDS)
def test_invalid_records_are_dead_letters_with_a_reason(value: Any, reason: Reason) -> None:
    record = raw(value)
    parsed = parse_change(record)
    assert isinstance(parsed, DeadLetter)
    assert parsed.reason is reason
    assert parsed.raw is record
    assert parsed.detail


def test_amount_may_be_an_exact_integer() -> None:
    change = parse_change(raw(_mutated(("after", "total_amount"), 12)))
    assert isinstance(change, OrderChange) and change.after is not None
    assert change.after.total_amount == Decimal(12)


def test_missing_binlog_coordinates_give_no_position() -> None:
    document = event()
    document["source"] = {"ts_ms": 5}
    change = parse_change(raw(document))
    assert isinstance(change, OrderChange)
    assert change.source_position is None


def test_a_batch_is_parsed_into_groups_by_bucket_in_arrival_order() -> None:
    def envelope(order_id: int, version: int) -> RawChange:
        row = {
            "id": order_id, "customer_id": 1, "status": "PENDING", "total_amount": "1.00",
            "currency": "USD", "version": version, "created_at": 0, "updated_at": version,
        }
        value = {"op": "c", "after": row, "source": {"ts_ms": 1}}
        return RawChange("mysql-orders", 0, order_id * 10 + version, None, orjson.dumps(value))

    far = ORDERS_PER_BUCKET * 3 + 1
    raws = [envelope(1, 1), envelope(far, 1), RawChange("mysql-orders", 0, 99, None, None),
            RawChange("mysql-orders", 0, 98, None, b"{"), envelope(2, 1), envelope(1, 2)]
    batch = parse_batch(raws)
    assert [(key, [(c.order_id, c.version) for c in group]) for key, group in batch.changes] == [
        (placement.bucket_key(0, 0), [(1, 1), (2, 1), (1, 2)]),
        (placement.bucket_key(0, 3), [(far, 1)]),
    ]
    assert [letter.raw.offset for letter in batch.dead_letters] == [98]
    assert (batch.read, batch.tombstones) == (6, 1)


def test_the_connectors_envelopes_take_the_typed_path_and_parse_as_the_checked_one() -> None:
    # The envelopes the bench builds byte-compatible with Debezium's MariaDB connector
    # (bench/envelopes.py): inserts, updates, deletes, snapshot reads, re-deliveries.
    raws = raw_changes(2000, 0.05, seed=3)
    assert {parse_change(raw).op for raw in raws} >= {Op.CREATE, Op.UPDATE}  # type: ignore[union-attr]
    for raw in raws:
        assert raw.value is not None
        decoded = envelope.decode(raw.value)
        assert decoded is not None, raw.value
        usual = cdc._usual_change(decoded, raw)
        assert usual is not None and usual == cdc._parse_checked(raw) == parse_change(raw)
