"""The orders flow end to end: TestingSource -> flow -> TestingSink, with 1 and 2 workers.

Each CDC record is its own epoch, so the order in which changes reach each step is the same
with any number of workers; outputs are compared sorted by key (per key, in order).
"""

from __future__ import annotations

from datetime import timedelta

from dataflows.settings import FlowConfig
from tests.dataflow.expected import (
    MetricDelta,
    processed,
    revenue,
    s,
    transition,
)
from tests.dataflow.flow_harness import (
    CONFIG,
    ChangeLog,
    Outputs,
    envelope,
    row,
    run_flow,
)


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
