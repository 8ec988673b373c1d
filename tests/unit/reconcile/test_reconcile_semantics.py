"""Nearest-rank percentiles and the ground-truth semantics on a hand-written history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from orderstream.reconcile.model import (
    Revenue,
    Transitions,
    align_up,
    iso,
    micros_to_seconds,
    window_start,
)
from tests.unit.reconcile.reference import HistoryRow, expected_windows, nearest_rank

D = Decimal
T0 = datetime(2001, 1, 1, 0, 0, 0)  # naive UTC, like DATETIME(6)
W0 = datetime(2001, 1, 1, 0, 0, tzinfo=UTC)
W1 = W0 + timedelta(minutes=1)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        ([7], 50, 7),
        ([7], 95, 7),
        ([1, 2], 50, 1),  # ceil(0.5 * 2) = 1
        ([1, 2, 3], 50, 2),
        ([1, 2, 3, 4], 50, 2),
        (list(range(1, 11)), 50, 5),
        (list(range(1, 11)), 95, 10),  # ceil(9.5) = 10
        (list(range(1, 21)), 95, 19),  # ceil(19.0) = 19 exactly, no float drift
        (list(range(1, 101)), 95, 95),
        (list(range(1, 101)), 100, 100),
    ],
)
def test_nearest_rank(values: list[int], percent: int, expected: int) -> None:
    assert nearest_rank(values, percent) == expected


def test_nearest_rank_rejects_empty_and_bad_percent() -> None:
    with pytest.raises(ValueError):
        nearest_rank([], 50)
    with pytest.raises(ValueError):
        nearest_rank([1], 0)


def test_seconds_round_half_up_to_milliseconds() -> None:
    assert micros_to_seconds(1_234_500) == D("1.235")
    assert micros_to_seconds(1_234_499) == D("1.234")
    assert micros_to_seconds(1_234_450) == D("1.234")  # no double rounding via 4 decimals


def test_window_alignment() -> None:
    assert window_start(datetime(2001, 1, 1, 0, 1, 59, 999999), 60) == W1
    assert window_start(datetime(2001, 1, 1, 0, 1, 0), 60) == W1
    assert align_up(datetime(2001, 1, 1, 0, 0, 30, tzinfo=UTC), 60) == W1
    assert align_up(W1, 60) == W1
    assert window_start(datetime(2001, 1, 1, 0, 7, 0, tzinfo=UTC), 300) == W0 + timedelta(minutes=5)
    assert iso(W1) == "2001-01-01T00:01:00+00:00"


# A small history: order 1 (USD) PENDING -> PAID -> amount edit -> SHIPPED -> REFUNDED,
# order 2 (USD) inserted PAID -> CANCELLED, order 3 (EUR) PENDING -> CANCELLED, and order 4
# (USD) PENDING -> PAID in the next window.
HISTORY = [
    HistoryRow(1, 1, None, "PENDING", None, D("100.00"), at(1)),
    HistoryRow(2, 2, None, "PAID", None, D("50.00"), at(2)),
    HistoryRow(3, 3, None, "PENDING", None, D("30.00"), at(3)),
    HistoryRow(4, 1, "PENDING", "PAID", D("100.00"), D("100.00"), at(5)),  # 4 s in PENDING
    HistoryRow(5, 1, "PAID", "PAID", D("100.00"), D("90.00"), at(10)),  # adjustment -10
    HistoryRow(6, 2, "PAID", "CANCELLED", D("50.00"), D("50.00"), at(12)),  # 10 s in PAID
    HistoryRow(7, 3, "PENDING", "CANCELLED", D("30.00"), D("30.00"), at(13.5)),  # 10.5 s
    HistoryRow(8, 1, "PAID", "SHIPPED", D("90.00"), D("90.00"), at(20)),  # 15 s (edit ignored)
    HistoryRow(9, 1, "SHIPPED", "REFUNDED", D("90.00"), D("90.00"), at(65)),  # 45 s, next window
    HistoryRow(10, 4, None, "PENDING", None, D("20.00"), at(61)),
    HistoryRow(11, 4, "PENDING", "PAID", D("20.00"), D("20.00"), at(61.0005)),  # 0.0005 s
]
CURRENCY = {1: "USD", 2: "USD", 3: "EUR", 4: "USD"}


def test_revenue_windows_by_hand() -> None:
    revenue, _ = expected_windows(HISTORY, CURRENCY, 60)
    assert revenue == {
        # gross: order 1 into PAID 100 + order 2 inserted PAID 50; refunds: PAID->CANCELLED 50;
        # adjustments: -10
        (W0, "USD"): Revenue(D("150.00"), D("50.00"), D("-10.00"), D("90.00"), 2, 1),
        # EUR: only PENDING->CANCELLED, which is not a refund: no revenue window at all
        (W1, "USD"): Revenue(D("20.00"), D("90.00"), D("0"), D("-70.00"), 1, 1),
    }


def test_transition_windows_by_hand() -> None:
    _, transitions = expected_windows(HISTORY, CURRENCY, 60)

    def timed(count: int, p50: str, p95: str, top: str) -> Transitions:
        return Transitions(count, count, 0, D(p50), D(p95), D(top))

    assert transitions == {
        (W0, "PENDING", "PAID"): timed(1, "4.000", "4.000", "4.000"),
        (W0, "PAID", "CANCELLED"): timed(1, "10.000", "10.000", "10.000"),
        (W0, "PENDING", "CANCELLED"): timed(1, "10.500", "10.500", "10.500"),
        (W0, "PAID", "SHIPPED"): timed(1, "15.000", "15.000", "15.000"),
        (W1, "SHIPPED", "REFUNDED"): timed(1, "45.000", "45.000", "45.000"),
        (W1, "PENDING", "PAID"): timed(1, "0.001", "0.001", "0.001"),
    }


def test_percentiles_over_many_transitions_and_untimed_ones() -> None:
    rows = []
    for i in range(1, 21):  # 20 orders, i seconds in PENDING each
        rows.append(HistoryRow(2 * i, i, None, "PENDING", None, D("1.00"), at(0)))
        rows.append(HistoryRow(2 * i + 1, i, "PENDING", "PAID", D("1.00"), D("1.00"), at(i)))
    # an order whose entry into PENDING is not in the history (e.g. trimmed): untimed
    rows.append(HistoryRow(100, 99, "PENDING", "PAID", D("1.00"), D("1.00"), at(30)))
    _, transitions = expected_windows(rows, dict.fromkeys([*range(1, 21), 99], "KRW"), 60)
    assert transitions[(W0, "PENDING", "PAID")] == Transitions(
        21, 20, 1, D("10.000"), D("19.000"), D("20.000")
    )
