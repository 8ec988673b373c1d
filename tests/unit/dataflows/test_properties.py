"""Property tests: re-delivery never changes outputs; folds merge associatively; late
changes never vanish from window totals."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dataflows import revenue, routing, transitions
from dataflows.cdc import OrderChange, OrderImage
from dataflows.dedupe import OrderMemory, track
from dataflows.records import processed_order
from dataflows.revenue import RevenueTotals
from dataflows.transitions import TransitionSample, TransitionStats, summarize
from dataflows.windows import EventTimeWindows, Fold, WindowSpec
from orderstream.contract import OrderStatus
from tests.unit.dataflows.order_changes import (
    NOW,
    NOW_US,
    T0,
    delete,
    img,
    insert,
    snapshot,
    update,
)

STATUSES = [str(s) for s in OrderStatus]
AMOUNTS = ["0.00", "5.00", "9.99", "12.50", "100.00"]
SPEC = WindowSpec(timedelta(minutes=1), timedelta(seconds=10), timedelta(days=1))


@st.composite
def order_history(draw: st.DrawFn, order_id: int) -> list[OrderChange]:
    """One order's clean change log: insert or snapshot, updates (legal or not), maybe delete."""
    seconds = draw(st.integers(0, 300))
    version = draw(st.integers(1, 3))
    currency = draw(st.sampled_from(["USD", "EUR"]))

    def image(status: str, amount: str) -> OrderImage:
        return img(status, version, seconds, amount, order_id=order_id, currency=currency)

    current = image(draw(st.sampled_from(STATUSES)), draw(st.sampled_from(AMOUNTS)))
    log = [draw(st.sampled_from([insert, snapshot]))(current)]
    for _ in range(draw(st.integers(0, 5))):
        seconds += draw(st.integers(1, 90))
        version += 1
        status = draw(st.sampled_from([str(current.status), *STATUSES]))
        nxt = image(status, draw(st.sampled_from(AMOUNTS)))
        log.append(update(current, nxt))
        current = nxt
    if draw(st.booleans()):
        log.append(delete(current))
    return log


@st.composite
def clean_and_dirty_logs(draw: st.DrawFn) -> tuple[list[OrderChange], list[OrderChange]]:
    histories = [
        draw(order_history(order_id)) for order_id in range(1, draw(st.integers(1, 4)) + 1)
    ]
    # Interleave the orders, keeping each order's own order (one Kafka partition per key).
    clean: list[OrderChange] = []
    cursors = [0] * len(histories)
    while any(c < len(h) for c, h in zip(cursors, histories, strict=True)):
        pending = [i for i, h in enumerate(histories) if cursors[i] < len(h)]
        i = draw(st.sampled_from(pending))
        clean.append(histories[i][cursors[i]])
        cursors[i] += 1
    # Dirty: after each change, any earlier changes may be delivered again (duplicates,
    # replays after a connector restart, a re-snapshot).
    dirty: list[OrderChange] = []
    for index, change_ in enumerate(clean):
        dirty.append(change_)
        dirty += draw(st.lists(st.sampled_from(clean[: index + 1]), max_size=3))
    return clean, dirty


def pipeline(log: list[OrderChange]) -> dict[str, Any]:
    """The dataflow's pure rules end to end: dedupe, processed records, both windows."""
    memories: dict[int, OrderMemory | None] = {}
    processed = []
    revenue_windows: dict[str, EventTimeWindows[RevenueTotals, RevenueTotals]] = {}
    transition_windows: dict[str, EventTimeWindows[TransitionStats, TransitionStats]] = {}
    emitted: list[tuple[str, object]] = []
    for change_ in log:
        memory, tracked = track(memories.get(change_.order_id), change_, NOW_US)
        memories[change_.order_id] = memory
        if tracked is None:
            continue
        processed.append(processed_order(tracked, NOW))
        group = [(str(change_.order_id), [tracked])]
        for currency, [item] in routing.revenue_groups(group, SPEC):
            rw = revenue_windows.setdefault(
                currency, EventTimeWindows(SPEC, Fold(revenue.initialize, revenue.merge))
            )
            emitted += [
                (currency, r) for r in rw.on_event(item.event_time, item.value, NOW).results
            ]
        for pair, [sample] in routing.transition_groups(group, SPEC):
            tw = transition_windows.setdefault(
                pair, EventTimeWindows(SPEC, Fold(transitions.initialize, transitions.merge))
            )
            emitted += [
                (pair, r) for r in tw.on_event(sample.event_time, sample.value, NOW).results
            ]
    for key, rw in revenue_windows.items():
        emitted += [(key, r) for r in rw.close_all()]
    for key, tw in transition_windows.items():
        emitted += [(key, r) for r in tw.close_all()]
    return {"processed": processed, "windows": emitted}


@settings(max_examples=200, deadline=None)
@given(clean_and_dirty_logs())
def test_duplicates_and_redeliveries_yield_the_clean_outputs(
    logs: tuple[list[OrderChange], list[OrderChange]],
) -> None:
    clean, dirty = logs
    assert pipeline(dirty) == pipeline(clean)


revenue_totals = st.builds(
    RevenueTotals,
    gross=st.decimals(0, 10_000, places=2),
    refunds=st.decimals(0, 10_000, places=2),
    adjustments=st.decimals(-1000, 1000, places=2),
    paid_count=st.integers(0, 50),
    refund_count=st.integers(0, 50),
)
transition_samples = st.builds(
    TransitionSample,
    from_status=st.just(OrderStatus.PAID),
    to_status=st.just(OrderStatus.SHIPPED),
    duration_ms=st.none() | st.integers(0, 10**7),
)


@given(revenue_totals, revenue_totals, revenue_totals)
def test_revenue_merge_is_an_associative_commutative_monoid(
    a: RevenueTotals, b: RevenueTotals, c: RevenueTotals
) -> None:
    assert revenue.merge(revenue.merge(a, b), c) == revenue.merge(a, revenue.merge(b, c))
    assert revenue.merge(a, b) == revenue.merge(b, a)
    assert revenue.merge(revenue.initialize(), a) == a


def _fold(samples: list[TransitionSample]) -> TransitionStats:
    stats = transitions.initialize()
    for item in samples:
        stats = transitions.agg(stats, item)
    return stats


@given(st.lists(transition_samples), st.lists(transition_samples), st.lists(transition_samples))
def test_transition_folds_merge_associatively(
    xs: list[TransitionSample], ys: list[TransitionSample], zs: list[TransitionSample]
) -> None:
    a, b, c = _fold(xs), _fold(ys), _fold(zs)
    left, right = (
        transitions.merge(transitions.merge(a, b), c),
        transitions.merge(a, transitions.merge(b, c)),
    )
    assert left == right
    # Folding everything at once equals merging partial folds, in any order.
    assert summarize(_fold(xs + ys + zs)) == summarize(left)
    assert summarize(transitions.merge(b, a)) == summarize(transitions.merge(a, b))


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(st.tuples(st.integers(0, 600), st.integers(1, 1000)), min_size=1, max_size=40),
    lateness_s=st.integers(0, 120),
    ticks=st.lists(st.integers(0, 30), min_size=40, max_size=40),
)
def test_late_changes_never_vanish_from_window_totals(
    events: list[tuple[int, int]], lateness_s: int, ticks: list[int]
) -> None:
    """Whatever the arrival order and system time, each window's last record is complete."""
    spec = WindowSpec(timedelta(minutes=1), timedelta(seconds=lateness_s), timedelta(days=1))
    windows: EventTimeWindows[int, int] = EventTimeWindows(
        spec, Fold(lambda: 0, lambda t, v: t + v)
    )
    now = NOW
    emitted = []
    for (second, value), tick in zip(events, ticks, strict=False):
        now += timedelta(seconds=tick)
        outcome = windows.on_event(T0 + timedelta(seconds=second), value, now)
        assert not outcome.expired
        emitted += outcome.results
    emitted += windows.close_all()

    expected: dict[object, int] = defaultdict(int)
    for second, value in events:
        expected[spec.start_of(T0 + timedelta(seconds=second))] += value
    last: dict[object, int] = {}
    revisions: dict[object, list[int]] = defaultdict(list)
    for result in emitted:
        last[result.window_start] = result.totals
        revisions[result.window_start].append(result.revision)
    assert last == dict(expected)
    assert all(r == list(range(1, len(r) + 1)) for r in revisions.values())
    assert sum(len(r) - 1 for r in revisions.values()) <= len(events)


def test_decimal_sums_are_exact() -> None:
    total = revenue.initialize()
    for _ in range(10):
        total = revenue.agg(total, RevenueTotals(gross=Decimal("0.10")))
    assert total.gross == Decimal("1.00")
