"""The orders flow end to end, continued: amounts, refunds, dead letters, window edges, and
1 vs 2 workers on a mixed log (TestingSource -> flow -> TestingSink)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from tests.dataflow.expected import (
    MetricDelta,
    revenue,
    s,
    transition,
)
from tests.dataflow.flow_harness import (
    NOW_ISO,
    T0,
    ChangeLog,
    Outputs,
    envelope,
    row,
    run_flow,
)


def test_amount_adjustments(workers: int) -> None:
    log = ChangeLog()
    pending = row(1, "PENDING", "10.00", 1, s(0))
    pending_edit = row(1, "PENDING", "11.00", 2, s(5))
    paid = row(1, "PAID", "11.00", 3, s(10))
    paid_edit = row(1, "PAID", "13.50", 4, s(20))
    shipped = row(1, "SHIPPED", "13.50", 5, s(30))
    shipped_edit = row(1, "SHIPPED", "12.75", 6, s(40))
    for before, after in (
        (pending, pending_edit),
        (pending_edit, paid),
        (paid, paid_edit),
        (paid_edit, shipped),
        (shipped, shipped_edit),
    ):
        log.update(before, after)

    out = run_flow(log.records, workers)

    assert out.revenue == [
        revenue(0, "USD", gross="11.00", adjustments="1.75", net="12.75", paid_count=1)
    ]
    # amount edits are not transitions; the first transition has no known entry time
    assert out.transitions == [
        transition(0, "PAID", "SHIPPED", 1, p50=20.0, p95=20.0, max_=20.0),
        transition(0, "PENDING", "PAID", 1, untimed=1),
    ]


def test_refunds_per_currency(workers: int) -> None:
    log = ChangeLog()
    for order_id, (currency, final) in enumerate(
        [("EUR", "CANCELLED"), ("EUR", "REFUNDED"), ("KRW", "REFUNDED")], start=1
    ):
        paid = row(order_id, "PAID", "20.00", 1, s(order_id), currency=currency)
        shipped = row(order_id, "SHIPPED", "20.00", 2, s(10 + order_id), currency=currency)
        log.insert(paid)
        if final == "CANCELLED":
            log.update(paid, row(order_id, final, "20.00", 2, s(20), currency=currency))
        else:
            log.update(paid, shipped)
            log.update(shipped, row(order_id, final, "19.00", 3, s(30), currency=currency))

    out = run_flow(log.records, workers)

    assert out.revenue == [
        revenue(0, "EUR", "40.00", "40.00", "0.00", "0.00", paid_count=2, refund_count=2),
        revenue(0, "KRW", "20.00", "20.00", "0.00", "0.00", paid_count=1, refund_count=1),
    ]


BAD_VALUES: dict[str, bytes] = {
    "not_json": b"\x00 definitely not json",
    "bad_envelope": orjson.dumps(
        {"op": "u", "before": None, "after": None, "source": {"ts_ms": 1}}
    ),
    "missing_field": orjson.dumps(
        envelope("c", None, {**row(9, "PAID", "1.00", 1, T0), "status": None})
    ),
    "bad_field": orjson.dumps(envelope("c", None, {**row(9, "PAID", "1.00", 1, T0), "id": "nine"})),
    "unknown_status": orjson.dumps(envelope("c", None, row(9, "LOST", "1.00", 1, T0))),
    "bad_amount": orjson.dumps(envelope("c", None, row(9, "PAID", "one", 1, T0))),
    "bad_currency": orjson.dumps(
        envelope("c", None, row(9, "PAID", "1.00", 1, T0, currency="$$$"))
    ),
    "bad_version": orjson.dumps(envelope("c", None, row(9, "PAID", "1.00", 0, T0))),
    "bad_timestamp": orjson.dumps(
        envelope("c", None, {**row(9, "PAID", "1.00", 1, T0), "updated_at": "soon"})
    ),
}


@pytest.mark.parametrize("reason", sorted(BAD_VALUES))
def test_each_invalid_record_is_dead_lettered_and_processing_continues(
    workers: int, reason: str
) -> None:
    log = ChangeLog(partition=3)
    log.insert(row(1, "PAID", "2.00", 1, s(0)))
    bad = log.add_value(b'{"id":9}', BAD_VALUES[reason])
    log.insert(row(2, "PAID", "3.00", 1, s(1)))
    counted = MetricDelta("orders_dlq_total", reason=reason)

    out = run_flow(log.records, workers)

    assert [key for key, _ in out.processed] == ["1", "2"]
    assert out.revenue == [revenue(0, "USD", gross="5.00", net="5.00", paid_count=2)]
    assert len(out.dead_letters) == 1
    key, value = out.dead_letters[0]
    assert key == "mysql-orders/3/1"
    detail = value.pop("detail")
    assert detail
    assert value == {
        "reason": reason,
        "source_topic": "mysql-orders",
        "source_partition": 3,
        "source_offset": bad.offset,
        "raw_key": "eyJpZCI6OX0=",
        "raw_value": _b64(BAD_VALUES[reason]),
        "failed_at": NOW_ISO,
    }
    assert counted.delta == 1


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_windows_split_at_minute_boundaries_and_percentiles_use_nearest_rank(workers: int) -> None:
    log = ChangeLog()
    durations = [5.0, 1.0, 4.0, 2.0, 3.0]  # PENDING -> PAID, all paid in [00:01, 00:02)
    for order_id, duration in enumerate(durations, start=1):
        pending = row(order_id, "PENDING", "1.00", 1, s(60 - duration))
        log.insert(pending)
        log.update(pending, row(order_id, "PAID", "1.00", 2, s(60)))
    log.insert(row(99, "PAID", "2.00", 1, s(59.999999)))

    out = run_flow(log.records, workers)

    assert out.revenue == [
        revenue(0, "USD", gross="2.00", net="2.00", paid_count=1),
        revenue(60, "USD", gross="5.00", net="5.00", paid_count=5),
    ]
    assert out.transitions == [transition(60, "PENDING", "PAID", 5, p50=3.0, p95=5.0, max_=5.0)]


def _all_records(outputs: Outputs) -> Iterator[tuple[str, Any]]:
    yield from outputs.processed
    yield from outputs.revenue
    yield from outputs.transitions
    yield from outputs.dead_letters


def test_one_and_two_workers_agree_on_a_mixed_log() -> None:
    log = ChangeLog()
    for order_id in range(1, 13):
        currency = ["USD", "EUR", "JPY"][order_id % 3]
        pending = row(order_id, "PENDING", f"{order_id}.00", 1, s(order_id * 7), currency=currency)
        paid = row(order_id, "PAID", f"{order_id}.00", 2, s(order_id * 11), currency=currency)
        log.insert(pending)
        log.update(pending, paid)
        if order_id % 4 == 0:
            log.update(
                paid,
                row(
                    order_id, "CANCELLED", f"{order_id}.00", 3, s(order_id * 13), currency=currency
                ),
            )
    log.add_value(None, b"[]")

    one, two = run_flow(log.records, 1), run_flow(log.records, 2)

    assert one == two
    assert len(list(_all_records(one))) > 30
