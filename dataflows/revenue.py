"""Revenue per currency per window: what one change contributes, and the window fold.

Pure: no bytewax, no confluent_kafka. The rules look only at ``(from, to)``: legality
changes the anomaly flag, never the money (docs/dataflow.md, "Semantics").

The fold is a commutative monoid (``initialize`` is the identity, ``merge`` is associative
and commutative), so totals do not depend on arrival order or on which changes were late.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from dataflows.cdc import Op
from dataflows.dedupe import TrackedChange
from orderstream.contract import ADJUSTABLE_STATUSES, REFUND_TRANSITIONS, OrderStatus

ZERO = Decimal("0")


@dataclass(frozen=True)
class RevenueTotals:
    """Totals of a window, or the contribution of a single change."""

    gross: Decimal = ZERO
    refunds: Decimal = ZERO
    adjustments: Decimal = ZERO
    paid_count: int = 0
    refund_count: int = 0

    @property
    def net(self) -> Decimal:
        return self.gross - self.refunds + self.adjustments


def contribution(tracked: TrackedChange) -> RevenueTotals | None:
    """What a change adds to its window's revenue; ``None`` if it touches no money."""
    change = tracked.change
    after = change.after
    if change.op is Op.CREATE and after is not None:
        if after.status is OrderStatus.PAID:
            return _paid(after.total_amount)
        return None
    if change.op is not Op.UPDATE or change.before is None or after is None:
        return None  # snapshot reads and deletes count toward nothing
    before = change.before
    from_status, to_status = before.status, after.status
    if from_status == to_status:
        if to_status in ADJUSTABLE_STATUSES:
            return _adjusted(after.total_amount - before.total_amount)
        return None
    if to_status is OrderStatus.PAID:
        return _paid(after.total_amount)
    if (from_status, to_status) in REFUND_TRANSITIONS:
        return _refunded(before.total_amount)
    return None


# Contributions are immutable and amounts repeat (prices, totals), so one object per amount
# serves every change: building a frozen dataclass costs ~1.5 µs, a cache hit ~0.1 µs.
@functools.lru_cache(maxsize=65536)
def _paid(amount: Decimal) -> RevenueTotals:
    return RevenueTotals(gross=amount, paid_count=1)


@functools.lru_cache(maxsize=65536)
def _refunded(amount: Decimal) -> RevenueTotals:
    return RevenueTotals(refunds=amount, refund_count=1)


@functools.lru_cache(maxsize=65536)
def _adjusted(difference: Decimal) -> RevenueTotals:
    return RevenueTotals(adjustments=difference)


def initialize() -> RevenueTotals:
    return RevenueTotals()


def merge(a: RevenueTotals, b: RevenueTotals) -> RevenueTotals:
    return RevenueTotals(
        gross=a.gross + b.gross,
        refunds=a.refunds + b.refunds,
        adjustments=a.adjustments + b.adjustments,
        paid_count=a.paid_count + b.paid_count,
        refund_count=a.refund_count + b.refund_count,
    )


#: Adding one change's contribution is merging it.
agg = merge


def total(contributions: Sequence[RevenueTotals]) -> RevenueTotals:
    """The sum of many contributions (a batch's for one window), without a totals object per
    addition: what ``merge`` over them gives."""
    if len(contributions) == 1:
        return contributions[0]
    return RevenueTotals(
        gross=sum((c.gross for c in contributions), ZERO),
        refunds=sum((c.refunds for c in contributions), ZERO),
        adjustments=sum((c.adjustments for c in contributions), ZERO),
        paid_count=sum(c.paid_count for c in contributions),
        refund_count=sum(c.refund_count for c in contributions),
    )
