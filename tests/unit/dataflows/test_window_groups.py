"""A group of events settled once (``settle=False``, then ``on_tick``) gives the windows
``settle=True`` gives one event at a time: the dataflow applies each key's events of a batch
as one group (stateful.WindowedAggregate)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dataflows.windows import EventTimeWindows, Fold, WindowResult, WindowSpec

T0 = datetime(2026, 11, 25, tzinfo=UTC)
NOW = datetime(2030, 1, 1, tzinfo=UTC)
SUM: Fold[int, int] = Fold(lambda: 0, lambda total, value: total + value)
SPEC = WindowSpec(
    timedelta(minutes=1),
    allowed_lateness=timedelta(seconds=10),
    retention=timedelta(minutes=3),
    partition_idle=timedelta(seconds=30),
)

#: (event second, partition, value); groups share a system time that moves on between them.
events = st.tuples(st.integers(0, 600), st.integers(0, 2), st.integers(1, 9))
batches = st.lists(
    st.tuples(st.integers(0, 40), st.lists(events, min_size=1, max_size=12)),
    min_size=1,
    max_size=12,
)


def run(groups: list[tuple[int, list[tuple[int, int, int]]]], grouped: bool) -> list[object]:
    windows: EventTimeWindows[int, int] = EventTimeWindows(SPEC, SUM)
    out: list[object] = []
    now = NOW
    for advance, group in groups:
        now += timedelta(seconds=advance)
        for second, partition, value in group:
            at = T0 + timedelta(seconds=second)
            outcome = windows.on_event(at, value, now, partition, settle=not grouped)
            out.extend(outcome.results)
            out.append(("late", outcome.late, "expired", outcome.expired))
        if grouped:
            out.extend(windows.on_tick(now))
    out.extend(windows.close_all())
    return out


def final_and_revisions(out: list[object]) -> tuple[dict[datetime, int], Counter[int]]:
    results = [r for r in out if isinstance(r, WindowResult)]
    final = {r.window_start: r.totals for r in results}
    return final, Counter(r.revision for r in results)


@settings(max_examples=150, deadline=None)
@given(batches)
def test_a_group_settled_once_emits_what_one_event_at_a_time_emits(
    groups: list[tuple[int, list[tuple[int, int, int]]]],
) -> None:
    one_by_one, grouped = run(groups, grouped=False), run(groups, grouped=True)
    # Same records (a window closes before the next event either way), same lateness.
    assert Counter(map(repr, one_by_one)) == Counter(map(repr, grouped))
    assert final_and_revisions(one_by_one) == final_and_revisions(grouped)


def test_windows_made_due_by_a_group_close_at_its_end() -> None:
    windows: EventTimeWindows[int, int] = EventTimeWindows(SPEC, SUM)
    windows.on_event(T0 + timedelta(seconds=5), 1, NOW, settle=False)
    outcome = windows.on_event(T0 + timedelta(seconds=75), 2, NOW, settle=False)
    assert outcome.results == []  # [00:00, 00:01) is due but left open
    assert windows.on_tick(NOW) == [
        WindowResult(T0, T0 + timedelta(minutes=1), 1, 1)
    ]
