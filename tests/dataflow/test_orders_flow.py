"""The orders flow end to end: TestingSource -> flow -> TestingSink, with 1 and 2 workers.

Each CDC record is its own epoch, so the order in which changes reach each step is the same
with any number of workers; outputs are compared sorted by key (per key, in order).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY

from dataflows.settings import FlowConfig
from tests.dataflow.flow_harness import (
    CONFIG,
    NOW_ISO,
    T0,
    ChangeLog,
    Outputs,
    envelope,
    row,
    run_flow,
)


@pytest.fixture(params=[1, 2], ids=["1-worker", "2-workers"])
def workers(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def iso(seconds: float) -> str:
    return s(seconds).isoformat()


def processed(
    order_id: int,
    version: int,
    op: str,
    status: str,
    previous: str | None,
    amount: str,
    updated_s: float,
    anomalies: tuple[str, ...] = (),
    *,
    currency: str = "USD",
    ts_ms: int = 1_000,
) -> tuple[str, dict[str, Any]]:
    return (
        str(order_id),
        {
            "order_id": order_id,
            "version": version,
            "op": op,
            "status": status,
            "previous_status": previous,
            "customer_id": 7,
            "total_amount": amount,
            "currency": currency,
            "created_at": T0.isoformat(),
            "updated_at": iso(updated_s),
            "source_ts_ms": ts_ms,
            "source_position": f"mariadb-bin.000001:{4000 + ts_ms}:0",
            "processed_at": NOW_ISO,
            "anomalies": list(anomalies),
        },
    )


def revenue(
    start_s: int,
    currency: str,
    gross: str = "0.00",
    refunds: str = "0.00",
    adjustments: str = "0.00",
    net: str = "0.00",
    paid_count: int = 0,
    refund_count: int = 0,
    revision: int = 1,
) -> tuple[str, dict[str, Any]]:
    return (
        f"{iso(start_s)}|{currency}",
        {
            "window_start": iso(start_s),
            "window_end": iso(start_s + 60),
            "currency": currency,
            "gross": gross,
            "refunds": refunds,
            "adjustments": adjustments,
            "net": net,
            "paid_count": paid_count,
            "refund_count": refund_count,
            "revision": revision,
        },
    )


def transition(
    start_s: int,
    from_status: str,
    to_status: str,
    count: int,
    timed: list[float] | None = None,
    p50: float | None = None,
    p95: float | None = None,
    max_: float | None = None,
    untimed: int = 0,
    revision: int = 1,
) -> tuple[str, dict[str, Any]]:
    return (
        f"{iso(start_s)}|{from_status}|{to_status}",
        {
            "window_start": iso(start_s),
            "window_end": iso(start_s + 60),
            "from_status": from_status,
            "to_status": to_status,
            "count": count,
            "timed_count": count - untimed,
            "untimed_count": untimed,
            "p50_seconds": p50,
            "p95_seconds": p95,
            "max_seconds": max_,
            "revision": revision,
        },
    )


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class MetricDelta:
    def __init__(self, name: str, **labels: str) -> None:
        self.name, self.labels = name, labels
        self.before = metric(name, **labels)

    @property
    def delta(self) -> float:
        return metric(self.name, **self.labels) - self.before


def test_order_lifecycle_with_duplicates(workers: int) -> None:
    log = ChangeLog()
    pending = row(1, "PENDING", "40.00", 1, s(5))
    paid = row(1, "PAID", "40.00", 2, s(20.5))
    shipped = row(1, "SHIPPED", "40.00", 3, s(50.25))
    created = log.insert(pending, ts_ms=1_001)
    to_paid = log.update(pending, paid, ts_ms=1_002)
    log.redeliver(created)
    log.redeliver(to_paid)
    log.update(paid, shipped, ts_ms=1_003)
    log.redeliver(to_paid)
    dropped = MetricDelta("orders_duplicates_dropped_total")
    events_in = MetricDelta("orders_events_in_total")
    updates = MetricDelta("orders_processed_total", op="u")
    gross = MetricDelta("orders_revenue_total", currency="USD", kind="gross")
    pending_to_paid = MetricDelta(
        "orders_status_transitions_total", **{"from": "PENDING", "to": "PAID"}
    )
    tracked = MetricDelta("orders_tracked_orders")

    out = run_flow(log.records, workers)

    assert out == Outputs(
        processed=[
            processed(1, 1, "c", "PENDING", None, "40.00", 5, ts_ms=1_001),
            processed(1, 2, "u", "PAID", "PENDING", "40.00", 20.5, ts_ms=1_002),
            processed(1, 3, "u", "SHIPPED", "PAID", "40.00", 50.25, ts_ms=1_003),
        ],
        revenue=[revenue(0, "USD", gross="40.00", net="40.00", paid_count=1)],
        transitions=[
            transition(0, "PAID", "SHIPPED", 1, p50=29.75, p95=29.75, max_=29.75),
            transition(0, "PENDING", "PAID", 1, p50=15.5, p95=15.5, max_=15.5),
        ],
        dead_letters=[],
    )
    assert dropped.delta == 3
    assert events_in.delta == 6
    assert updates.delta == 2
    assert gross.delta == 40
    assert pending_to_paid.delta == 1
    assert tracked.delta == 1  # the frozen clock never evicts


def test_illegal_transitions_are_emitted_flagged_and_counted(workers: int) -> None:
    log = ChangeLog()
    pending = row(1, "PENDING", "10.00", 1, s(0))
    shipped = row(1, "SHIPPED", "10.00", 2, s(30))
    delivered = row(2, "DELIVERED", "7.00", 1, s(1))
    repaid = row(2, "PAID", "7.00", 2, s(41))
    log.insert(pending)
    log.update(pending, shipped)  # PENDING -> SHIPPED skips PAID
    log.insert(delivered)  # inserted neither PENDING nor PAID
    log.update(delivered, repaid)  # DELIVERED -> PAID: illegal, but the money counts
    skipped = MetricDelta(
        "orders_illegal_transitions_total", **{"from": "PENDING", "to": "SHIPPED"}
    )
    inserted = MetricDelta(
        "orders_illegal_transitions_total", **{"from": "none", "to": "DELIVERED"}
    )

    out = run_flow(log.records, workers)

    illegal = ("illegal_transition",)
    assert out.processed == [
        processed(1, 1, "c", "PENDING", None, "10.00", 0),
        processed(1, 2, "u", "SHIPPED", "PENDING", "10.00", 30, illegal),
        processed(2, 1, "c", "DELIVERED", None, "7.00", 1, illegal),
        processed(2, 2, "u", "PAID", "DELIVERED", "7.00", 41, illegal),
    ]
    assert out.revenue == [revenue(0, "USD", gross="7.00", net="7.00", paid_count=1)]
    assert out.transitions == [
        transition(0, "DELIVERED", "PAID", 1, p50=40.0, p95=40.0, max_=40.0),
        transition(0, "PENDING", "SHIPPED", 1, p50=30.0, p95=30.0, max_=30.0),
    ]
    assert (skipped.delta, inserted.delta) == (1, 1)


def test_late_change_corrects_its_closed_window_with_the_next_revision(workers: int) -> None:
    log = ChangeLog()
    log.insert(row(1, "PAID", "10.00", 1, s(10)))
    log.insert(row(2, "PAID", "5.00", 1, s(130)))  # watermark 00:02:00: closes [00:00, 00:01)
    log.insert(row(3, "PAID", "7.25", 1, s(30)))  # late for [00:00, 00:01)
    log.insert(row(4, "PAID", "1.00", 1, s(125)))  # out of order, within lateness
    late = MetricDelta("orders_late_events_total", aggregate="revenue")

    out = run_flow(log.records, workers)

    assert out.revenue == [
        revenue(0, "USD", gross="10.00", net="10.00", paid_count=1, revision=1),
        revenue(0, "USD", gross="17.25", net="17.25", paid_count=2, revision=2),
        revenue(120, "USD", gross="6.00", net="6.00", paid_count=2, revision=1),
    ]
    assert late.delta == 1
    assert out.dead_letters == []


def test_late_transition_recomputes_percentiles(workers: int) -> None:
    log = ChangeLog()
    for order_id, paid_after in ((1, 10), (2, 40)):
        pending = row(order_id, "PENDING", "1.00", 1, s(0))
        log.insert(pending)
        log.update(pending, row(order_id, "PAID", "1.00", 2, s(paid_after)))
    # The watermark is per (from, to) pair: another PENDING -> PAID moves it past 00:01.
    pending = row(3, "PENDING", "1.00", 1, s(190))
    log.insert(pending)
    log.update(pending, row(3, "PAID", "1.00", 2, s(200)))
    slow_pending = row(4, "PENDING", "1.00", 1, s(-100))
    log.insert(slow_pending)
    log.update(slow_pending, row(4, "PAID", "1.00", 2, s(50.0005)))  # late, 150.0005 s

    out = run_flow(log.records, workers)

    assert out.transitions == [
        transition(0, "PENDING", "PAID", 2, p50=10.0, p95=40.0, max_=40.0, revision=1),
        transition(0, "PENDING", "PAID", 3, p50=40.0, p95=150.001, max_=150.001, revision=2),
        transition(180, "PENDING", "PAID", 1, p50=10.0, p95=10.0, max_=10.0),
    ]


def test_change_later_than_window_retention_is_dead_lettered(workers: int) -> None:
    config = FlowConfig(
        window_length=CONFIG.window_length,
        allowed_lateness=CONFIG.allowed_lateness,
        window_retention=timedelta(minutes=2),
        order_state_idle=CONFIG.order_state_idle,
    )
    log = ChangeLog()
    log.insert(row(1, "PAID", "10.00", 1, s(10)))
    log.insert(row(2, "PAID", "5.00", 1, s(600)))  # [00:00, 00:01) closed and dropped
    too_late = log.insert(row(3, "PAID", "7.00", 1, s(30)))
    expired = MetricDelta("orders_dlq_total", reason="window_expired")

    out = run_flow(log.records, workers, config)

    assert out.revenue == [
        revenue(0, "USD", gross="10.00", net="10.00", paid_count=1),
        revenue(600, "USD", gross="5.00", net="5.00", paid_count=1),
    ]
    assert [key for key, _ in out.processed] == ["1", "2", "3"]  # still processed
    assert len(out.dead_letters) == 1
    key, value = out.dead_letters[0]
    assert key == too_late.coordinates == "mysql-orders/0/2"
    assert value["reason"] == "window_expired"
    assert value["raw_value"] is not None and value["source_offset"] == 2
    assert expired.delta == 1


def test_tombstones_are_skipped_and_counted(workers: int) -> None:
    log = ChangeLog()
    log.tombstone(1)
    log.insert(row(2, "PENDING", "3.00", 1, s(0)))
    log.tombstone(2)
    tombstones = MetricDelta("orders_tombstones_total")

    out = run_flow(log.records, workers)

    assert out == Outputs([processed(2, 1, "c", "PENDING", None, "3.00", 0)], [], [], [])
    assert tombstones.delta == 2


def test_delete_is_processed_once_and_touches_no_aggregate(workers: int) -> None:
    log = ChangeLog()
    paid = row(1, "PAID", "9.00", 1, s(0))
    cancelled = row(1, "CANCELLED", "9.00", 2, s(20))
    log.insert(paid)
    log.update(paid, cancelled)
    deleted = log.delete(cancelled)
    log.tombstone(1)
    log.redeliver(deleted)
    deletes = MetricDelta("orders_processed_total", op="d")

    out = run_flow(log.records, workers)

    assert out.processed == [
        processed(1, 1, "c", "PAID", None, "9.00", 0),
        processed(1, 2, "u", "CANCELLED", "PAID", "9.00", 20),
        processed(1, 2, "d", "CANCELLED", "CANCELLED", "9.00", 20),
    ]
    assert out.revenue == [
        revenue(0, "USD", gross="9.00", refunds="9.00", net="0.00", paid_count=1, refund_count=1)
    ]
    assert out.transitions == [transition(0, "PAID", "CANCELLED", 1, p50=20.0, p95=20.0, max_=20.0)]
    assert deletes.delta == 1


def test_snapshot_read_sets_baseline_and_entry_time_only(workers: int) -> None:
    log = ChangeLog()
    paid = row(1, "PAID", "25.00", 3, s(5))
    shipped = row(1, "SHIPPED", "25.00", 4, s(50))
    log.snapshot(paid)
    log.snapshot(paid)  # re-snapshot after a connector restart
    log.add(envelope("u", row(1, "PENDING", "25.00", 2, s(1)), paid))  # older than baseline
    log.update(paid, shipped)

    out = run_flow(log.records, workers)

    assert out == Outputs(
        processed=[
            processed(1, 3, "r", "PAID", None, "25.00", 5),
            processed(1, 4, "u", "SHIPPED", "PAID", "25.00", 50),
        ],
        revenue=[],  # snapshot reads count toward nothing
        transitions=[transition(0, "PAID", "SHIPPED", 1, p50=45.0, p95=45.0, max_=45.0)],
        dead_letters=[],
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
    import base64

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
