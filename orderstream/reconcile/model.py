"""Window values of the reconciliation audit, and window arithmetic. Pure, no IO.

A window is identified by its start, an aware UTC datetime aligned to multiples of the
window length since the UTC epoch (ARCHITECTURE.md §5).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ZERO = Decimal("0.00")
MILLIS = Decimal("0.001")

RevenueKey = tuple[datetime, str]  # (window_start, currency)
TransitionKey = tuple[datetime, str, str]  # (window_start, from_status, to_status)


@dataclass(frozen=True)
class Revenue:
    gross: Decimal = ZERO
    refunds: Decimal = ZERO
    adjustments: Decimal = ZERO
    net: Decimal = ZERO
    paid_count: int = 0
    refund_count: int = 0


NO_REVENUE = Revenue()


@dataclass(frozen=True)
class Transitions:
    count: int
    timed_count: int  # transitions whose time in `from` is known
    untimed_count: int
    p50_seconds: Decimal | None  # nearest rank over the timed ones, 3 decimals
    p95_seconds: Decimal | None
    max_seconds: Decimal | None


@dataclass(frozen=True)
class RevenueRecord:
    """The latest record for one key of the revenue topic."""

    window_start: datetime
    window_end: datetime
    currency: str
    revenue: Revenue
    revision: int


@dataclass(frozen=True)
class TransitionRecord:
    """The latest record for one key of the transitions topic."""

    window_start: datetime
    window_end: datetime
    from_status: str
    to_status: str
    transitions: Transitions
    revision: int


@dataclass(frozen=True)
class BadRecord:
    """A record on an aggregate topic that does not follow the wire format."""

    topic: str
    key: str
    reason: str


def window_start(t: datetime, window_seconds: int) -> datetime:
    """Start of the window holding ``t`` (aware; naive means UTC)."""
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    micros = (t - EPOCH) // timedelta(microseconds=1)
    step = window_seconds * 1_000_000
    return EPOCH + timedelta(microseconds=micros // step * step)


def align_up(t: datetime, window_seconds: int) -> datetime:
    """The first window start at or after ``t``."""
    start = window_start(t, window_seconds)
    aware = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    return start if start == aware else start + timedelta(seconds=window_seconds)


def iso(t: datetime) -> str:
    """The wire format of a time: ``datetime.isoformat()`` of an aware UTC datetime."""
    return t.astimezone(UTC).isoformat()


def micros_to_seconds(micros: int) -> Decimal:
    """Microseconds as the wire's seconds: rounded half-up to milliseconds."""
    return (Decimal(micros) / 1_000_000).quantize(MILLIS, rounding=ROUND_HALF_UP)
