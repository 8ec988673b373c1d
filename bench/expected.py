"""Revenue per (window, currency) straight from the planned change log. Pure.

An independent restatement of the revenue rules (docs/dataflow.md, "Semantics") over
:class:`PlannedChange` values, to check the dataflow's final window records against.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from bench.envelopes import BASE_TIME, event_time_us
from orderstream.contract import ADJUSTABLE_STATUSES, REFUND_TRANSITIONS, OrderStatus
from orderstream.loadgen.planner import ChangeKind, PlannedChange

WINDOW_SECONDS = 60


@dataclass
class WindowRevenue:
    gross: Decimal = Decimal(0)
    refunds: Decimal = Decimal(0)
    adjustments: Decimal = Decimal(0)
    paid_count: int = 0
    refund_count: int = 0

    @property
    def net(self) -> Decimal:
        return self.gross - self.refunds + self.adjustments


def window_key(updated_at_us: int, currency: str, window_seconds: int = WINDOW_SECONDS) -> str:
    """The revenue topic's key: ``<window_start ISO-8601>|<currency>``."""
    seconds = updated_at_us // 1_000_000
    start = datetime.fromtimestamp(seconds - seconds % window_seconds, tz=UTC)
    return f"{start.isoformat()}|{currency}"


class RevenueLedger:
    """Feed it every planned change once, in plan order."""

    def __init__(self, base: datetime = BASE_TIME) -> None:
        self._base = base
        self._currency_of: dict[int, str] = {}
        self.windows: dict[str, WindowRevenue] = defaultdict(WindowRevenue)

    def add(self, change: PlannedChange) -> None:
        if change.kind is ChangeKind.INSERT:
            assert change.currency is not None
            self._currency_of[change.order] = change.currency
        currency = self._currency_of[change.order]
        if change.final:
            del self._currency_of[change.order]
        key = window_key(event_time_us(change, self._base), currency)
        _apply(self.windows, key, change)


def _apply(windows: dict[str, WindowRevenue], key: str, change: PlannedChange) -> None:
    moves = (change.from_status, change.to_status)
    if change.to_status is OrderStatus.PAID and change.from_status is not OrderStatus.PAID:
        window = windows[key]
        window.gross += change.amount
        window.paid_count += 1
    elif moves in REFUND_TRANSITIONS:
        assert change.previous_amount is not None
        window = windows[key]
        window.refunds += change.previous_amount
        window.refund_count += 1
    elif change.from_status == change.to_status and change.to_status in ADJUSTABLE_STATUSES:
        assert change.previous_amount is not None
        windows[key].adjustments += change.amount - change.previous_amount
