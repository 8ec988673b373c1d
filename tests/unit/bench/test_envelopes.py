"""The benchmark's generated Debezium envelopes parse into the expected order changes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import orjson

from bench import envelopes
from bench.envelopes import BASE_TIME, CdcRecord, EnvelopeBuilder
from bench.expected import RevenueLedger
from dataflows.cdc import Op, OrderChange, RawChange, parse_change
from orderstream.contract import OrderStatus
from orderstream.loadgen.planner import ChangeKind


def _parse(record: CdcRecord, offset: int = 0) -> OrderChange:
    parsed = parse_change(RawChange("bench-cdc", 0, offset, record.key, record.value))
    assert isinstance(parsed, OrderChange), parsed
    return parsed


def test_insert_and_update_parse_into_the_planned_changes() -> None:
    changes = list(envelopes.planned_changes(2000, seed=7))
    builder = EnvelopeBuilder()
    records = [builder.build(change) for change in changes]

    first = _parse(records[0])
    planned = changes[0]
    assert planned.kind is ChangeKind.INSERT
    assert first.op is Op.CREATE and first.before is None and first.after is not None
    assert first.after.order_id == envelopes.FIRST_ORDER_ID
    assert first.after.status is planned.to_status
    assert first.after.total_amount == planned.amount
    assert first.after.version == 1
    assert first.event_time == BASE_TIME
    assert orjson.loads(records[0].key) == {"id": envelopes.FIRST_ORDER_ID}

    index = next(i for i, c in enumerate(changes) if c.kind is ChangeKind.STATUS)
    update, planned = _parse(records[index], index), changes[index]
    assert update.op is Op.UPDATE and update.before is not None
    assert update.before.status is planned.from_status
    assert update.image.status is planned.to_status
    assert update.before.total_amount == planned.previous_amount
    assert update.version == planned.version
    assert update.before.version == planned.version - 1
    assert update.event_time == BASE_TIME + timedelta(seconds=planned.at)
    assert update.image.created_at < update.event_time
    assert update.source_position is not None and update.source_position.endswith(":0")


def test_envelope_has_the_connectors_shape() -> None:
    change = next(envelopes.planned_changes(1, seed=1))
    value = orjson.loads(EnvelopeBuilder().build(change).value)
    assert list(value) == [
        "before",
        "after",
        "source",
        "transaction",
        "op",
        "ts_ms",
        "ts_us",
        "ts_ns",
    ]
    assert value["source"]["connector"] == "mariadb"
    assert value["source"]["ts_ms"] % 1000 == 0  # binlog timestamps are whole seconds
    assert value["after"]["total_amount"].count(".") == 1
    assert len(value["after"]["total_amount"].split(".")[1]) == 2


def test_redeliveries_repeat_earlier_records_byte_for_byte() -> None:
    builder = EnvelopeBuilder()
    records = [builder.build(c) for c in envelopes.planned_changes(5000, seed=3)]
    plan = envelopes.redelivery_plan(len(records), 0.05, seed=3)
    delivered = list(envelopes.with_redeliveries(records, plan))
    assert sum(plan.values()) == 250
    assert len(delivered) == 5250
    assert set(delivered) == set(records)


def test_ledger_counts_paid_inserts_as_gross() -> None:
    ledger = RevenueLedger()
    changes = list(envelopes.planned_changes(500, seed=5))
    for change in changes:
        ledger.add(change)
    paid = [c for c in changes if c.to_status is OrderStatus.PAID and c.from_status is None]
    gross = sum((w.gross for w in ledger.windows.values()), Decimal(0))
    assert gross >= sum((c.amount for c in paid), Decimal(0)) > 0
