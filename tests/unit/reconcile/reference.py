"""The ground-truth semantics in plain Python, over history rows. Pure, no IO; tests only.

The audit computes its windows in SQL (:mod:`orderstream.reconcile.truth`); this is the same
contract written out step by step, for the unit tests and to cross-check the SQL on generated
histories (tests/integration/test_reconcile.py).

- revenue per (window, currency): gross = amount of changes into PAID (an insert as PAID
  included); refunds = previous_amount of PAID->CANCELLED, SHIPPED->REFUNDED,
  DELIVERED->REFUNDED; adjustments = amount - previous_amount of rows with from = to in
  PAID/SHIPPED/DELIVERED; net = gross - refunds + adjustments.
- transitions per (window, from, to), from != to, from not null: count, and the time in
  ``from``: changed_at minus the changed_at of the order's previous status row (insert or
  status change, amount edits do not count) when that row entered ``from``; untimed
  otherwise. Percentiles by nearest rank, seconds rounded half-up to 3 decimals.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from orderstream.contract import ADJUSTABLE_STATUSES, REFUND_TRANSITIONS, OrderStatus
from orderstream.reconcile.model import (
    Revenue,
    RevenueKey,
    TransitionKey,
    Transitions,
    micros_to_seconds,
    window_start,
)

_REFUNDS = {(a.value, b.value) for a, b in REFUND_TRANSITIONS}
_ADJUSTABLE = {s.value for s in ADJUSTABLE_STATUSES}
PAID = OrderStatus.PAID.value


@dataclass(frozen=True)
class HistoryRow:
    id: int
    order_id: int
    from_status: str | None
    to_status: str
    previous_amount: Decimal | None
    amount: Decimal
    changed_at: datetime


def nearest_rank(sorted_values: Sequence[int], percent: int) -> int:
    """The nearest-rank percentile: the value at rank ceil(percent/100 * n) (1-based)."""
    if not sorted_values:
        raise ValueError("no values")
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], got {percent}")
    rank = math.ceil(percent * len(sorted_values) / 100)  # exact: integers only
    return sorted_values[rank - 1]


def expected_windows(
    rows: Iterable[HistoryRow], currency_of: Mapping[int, str], window_seconds: int
) -> tuple[dict[RevenueKey, Revenue], dict[TransitionKey, Transitions]]:
    ordered = sorted(rows, key=lambda r: (r.order_id, r.changed_at, r.id))
    sums: dict[RevenueKey, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    counts: dict[RevenueKey, list[int]] = defaultdict(lambda: [0, 0])
    durations: dict[TransitionKey, list[int | None]] = defaultdict(list)
    last_status_row: dict[int, HistoryRow] = {}
    for r in ordered:
        ws = window_start(r.changed_at, window_seconds)
        rkey = (ws, currency_of[r.order_id])
        if r.to_status == PAID and r.from_status != PAID:
            sums[rkey][0] += r.amount
            counts[rkey][0] += 1
        if (r.from_status, r.to_status) in _REFUNDS:
            sums[rkey][1] += r.previous_amount or Decimal(0)
            counts[rkey][1] += 1
        if r.from_status == r.to_status and r.to_status in _ADJUSTABLE:
            sums[rkey][2] += r.amount - (r.previous_amount or Decimal(0))
        if r.from_status == r.to_status:
            continue  # an amount edit: not a status change, does not re-enter the status
        if r.from_status is not None:
            entry = last_status_row.get(r.order_id)
            micros = None
            if entry is not None and entry.to_status == r.from_status:
                micros = (r.changed_at - entry.changed_at) // timedelta(microseconds=1)
            durations[(ws, r.from_status, r.to_status)].append(micros)
        last_status_row[r.order_id] = r
    revenue = {
        k: Revenue(
            gross=s[0], refunds=s[1], adjustments=s[2], net=s[0] - s[1] + s[2],
            paid_count=counts[k][0], refund_count=counts[k][1],
        )
        for k, s in sums.items()
    }
    transitions = {}
    for k, ds in durations.items():
        timed = sorted(d for d in ds if d is not None)
        transitions[k] = Transitions(
            count=len(ds),
            timed_count=len(timed),
            untimed_count=len(ds) - len(timed),
            p50_seconds=micros_to_seconds(nearest_rank(timed, 50)) if timed else None,
            p95_seconds=micros_to_seconds(nearest_rank(timed, 95)) if timed else None,
            max_seconds=micros_to_seconds(timed[-1]) if timed else None,
        )
    return revenue, transitions
