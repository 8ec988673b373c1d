"""dataflows.revenue and dataflows.transitions: contribution rules and window folds."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from dataflows import revenue, transitions
from dataflows.cdc import OrderChange
from dataflows.dedupe import TrackedChange
from dataflows.revenue import RevenueTotals
from dataflows.transitions import TransitionSample, TransitionStats, nearest_rank, summarize
from dataflows.utc import MICROSECOND
from orderstream.contract import OrderStatus
from tests.unit.dataflows.order_changes import delete, img, insert, snapshot, update

D = Decimal


def tracked(change_: OrderChange, elapsed: timedelta | None = None) -> TrackedChange:
    return TrackedChange(change_, (), None if elapsed is None else elapsed // MICROSECOND)


def u(from_status: str, to_status: str, before: str = "10.00", after: str = "10.00") -> OrderChange:
    return update(img(from_status, 1, 0, before), img(to_status, 2, 10, after))


@pytest.mark.parametrize(
    ("change_", "expected"),
    [
        (insert(img("PAID", 1, 0, "9.99")), RevenueTotals(gross=D("9.99"), paid_count=1)),
        (insert(img("PENDING", 1, 0)), None),
        (u("PENDING", "PAID", "5.00", "6.00"), RevenueTotals(gross=D("6.00"), paid_count=1)),
        # legality never changes the money: an illegal change into PAID still counts
        (u("DELIVERED", "PAID"), RevenueTotals(gross=D("10.00"), paid_count=1)),
        (u("PAID", "CANCELLED", "7.00", "0.00"), RevenueTotals(refunds=D("7.00"), refund_count=1)),
        (u("SHIPPED", "REFUNDED", "8.00"), RevenueTotals(refunds=D("8.00"), refund_count=1)),
        (u("DELIVERED", "REFUNDED", "9.00"), RevenueTotals(refunds=D("9.00"), refund_count=1)),
        (u("PENDING", "CANCELLED"), None),
        (u("PAID", "SHIPPED"), None),
        (u("PAID", "PAID", "10.00", "12.50"), RevenueTotals(adjustments=D("2.50"))),
        (u("SHIPPED", "SHIPPED", "10.00", "9.25"), RevenueTotals(adjustments=D("-0.75"))),
        (u("DELIVERED", "DELIVERED", "10.00", "10.00"), RevenueTotals(adjustments=D("0"))),
        (u("PENDING", "PENDING", "10.00", "11.00"), None),
        (u("CANCELLED", "CANCELLED", "10.00", "11.00"), None),
        (snapshot(img("PAID", 1, 0)), None),
        (delete(img("PAID", 1, 0)), None),
    ],
)
def test_revenue_contribution_rules(change_: OrderChange, expected: RevenueTotals | None) -> None:
    assert revenue.contribution(tracked(change_)) == expected


def test_net_is_gross_minus_refunds_plus_adjustments() -> None:
    totals = RevenueTotals(D("100.00"), D("30.00"), D("-2.50"), 3, 1)
    assert totals.net == D("67.50")


def test_revenue_fold_sums_everything() -> None:
    parts = [
        RevenueTotals(gross=D("1.10"), paid_count=1),
        RevenueTotals(refunds=D("0.10"), refund_count=1),
    ]
    totals = revenue.initialize()
    for part in parts:
        totals = revenue.agg(totals, part)
    assert totals == RevenueTotals(D("1.10"), D("0.10"), D("0"), 1, 1)


def test_transition_sample_only_for_status_changes() -> None:
    sample = transitions.sample(tracked(u("PAID", "SHIPPED"), timedelta(seconds=1.2345)))
    assert sample == TransitionSample(OrderStatus.PAID, OrderStatus.SHIPPED, 1235)
    assert sample is not None and sample.pair == "PAID|SHIPPED"
    untimed = transitions.sample(tracked(u("PAID", "SHIPPED")))
    assert untimed is not None and untimed.duration_ms is None
    assert transitions.sample(tracked(u("PAID", "PAID", "1.00", "2.00"))) is None
    assert transitions.sample(tracked(insert(img("PAID", 1, 0)))) is None
    assert transitions.sample(tracked(snapshot(img("PAID", 1, 0)))) is None
    assert transitions.sample(tracked(delete(img("PAID", 1, 0)))) is None


@pytest.mark.parametrize(
    ("duration", "ms"),
    [
        (timedelta(seconds=1, microseconds=499), 1000),
        (timedelta(seconds=1, microseconds=500), 1001),
        (timedelta(microseconds=1_499_999), 1500),
        (timedelta(0), 0),
    ],
)
def test_durations_round_half_up_to_milliseconds(duration: timedelta, ms: int) -> None:
    assert transitions.to_milliseconds(duration) == ms


def test_nearest_rank_percentiles() -> None:
    values = list(range(1, 21))  # 1..20
    assert nearest_rank(values, 50) == 10
    assert nearest_rank(values, 95) == 19
    assert nearest_rank(values, 100) == 20
    assert nearest_rank([7], 50) == 7
    assert nearest_rank([1, 2, 3], 50) == 2
    assert nearest_rank([1, 2, 3, 4], 50) == 2
    with pytest.raises(ValueError):
        nearest_rank([], 50)


def test_transition_fold_counts_timed_and_untimed() -> None:
    stats = transitions.initialize()
    for duration_ms in (4000, None, 1000, 3000, 2000):
        stats = transitions.agg(
            stats, TransitionSample(OrderStatus.PAID, OrderStatus.SHIPPED, duration_ms)
        )
    assert (stats.count, stats.timed_count, stats.untimed_count) == (5, 4, 1)
    summary = summarize(stats)
    assert (summary.p50_ms, summary.p95_ms, summary.max_ms) == (2000, 4000, 4000)


def test_summary_without_timings_has_no_percentiles() -> None:
    summary = summarize(TransitionStats(count=2, untimed_count=2))
    assert (summary.count, summary.timed_count, summary.untimed_count) == (2, 0, 2)
    assert (summary.p50_ms, summary.p95_ms, summary.max_ms) == (None, None, None)


def test_many_durations_are_chunked_and_summarized_exactly() -> None:
    stats = transitions.initialize()
    for ms in range(1000, 0, -1):  # 1000 samples, more than a few chunks
        stats = transitions.agg(stats, TransitionSample(OrderStatus.PAID, OrderStatus.SHIPPED, ms))
    assert all(len(chunk) <= transitions.CHUNK * 8 for chunk in stats.chunks)
    assert len(stats.chunks) == 4  # 256 + 256 + 256 + 232
    assert stats.timed_count == 1000 and stats.count == 1000
    assert sorted(stats.durations_ms) == list(range(1, 1001))
    summary = summarize(stats)
    assert (summary.p50_ms, summary.p95_ms, summary.max_ms) == (500, 950, 1000)


def test_durations_survive_packing_at_the_extremes() -> None:
    extremes = (0, 1, 2**31, 400 * 24 * 3600 * 1000, -5)  # a clock step back can give < 0
    stats = TransitionStats.of(len(extremes), 0, extremes)
    assert stats.durations_ms == extremes
    assert summarize(stats).max_ms == 400 * 24 * 3600 * 1000


def sample(ms: int | None) -> TransitionSample:
    return TransitionSample(OrderStatus.PAID, OrderStatus.SHIPPED, ms)


@pytest.mark.parametrize(
    "sizes", [[1], [3, 0, 2], [transitions.CHUNK - 1, 2, transitions.CHUNK * 2 + 5]]
)
def test_a_batch_folded_then_merged_is_the_same_as_one_sample_at_a_time(sizes: list[int]) -> None:
    """Windows get a batch's samples as one ``stats`` and merge it (routing.Partial)."""
    one_by_one, merged = transitions.initialize(), transitions.initialize()
    value = 0
    for size in sizes:
        batch = [sample(None if i % 7 == 3 else (value := value + 13) % 5000) for i in range(size)]
        for item in batch:
            one_by_one = transitions.agg(one_by_one, item)
        merged = transitions.merge(merged, transitions.stats(batch))
    assert merged == one_by_one  # same counts and the same chunks, byte for byte
    assert all(len(c) == transitions.CHUNK * 8 for c in merged.chunks[:-1])


def test_revenue_total_of_a_batch_is_the_fold_of_its_contributions() -> None:
    parts = [
        RevenueTotals(gross=D("9.99"), paid_count=1),
        RevenueTotals(refunds=D("7.00"), refund_count=1),
        RevenueTotals(adjustments=D("-0.01")),
        RevenueTotals(gross=D("0.02"), paid_count=1),
    ]
    folded = revenue.initialize()
    for part in parts:
        folded = revenue.agg(folded, part)
    assert revenue.total(parts) == folded == RevenueTotals(D("10.01"), D("7.00"), D("-0.01"), 2, 1)
    assert revenue.total(parts[:1]) is parts[0]
