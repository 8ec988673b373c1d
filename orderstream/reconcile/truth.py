"""Ground truth from ``order_status_history``, computed in SQL (MariaDB 10.11).

Windows are tumbling on ``changed_at``, aligned to the UTC epoch:
``TIMESTAMPDIFF(SECOND, '1970-01-01', changed_at) DIV w * w`` (DATETIME arithmetic, so the
session time zone plays no part). The currency is the order's (join on ``orders``).
The same semantics, step by step in Python, cross-check this SQL in the tests.

Every predicate is NULL-safe: an insert's history row has ``from_status`` NULL, and a NULL
would turn a ``SUM`` of flags into NULL and drop its whole window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pymysql
import pymysql.cursors

from orderstream.contract import ADJUSTABLE_STATUSES, REFUND_TRANSITIONS, OrderStatus
from orderstream.reconcile.model import (
    EPOCH,
    Revenue,
    RevenueKey,
    TransitionKey,
    Transitions,
    micros_to_seconds,
)

_WINDOW = "TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {col}) DIV %(w)s * %(w)s"
_REFUND_PAIRS = sorted((a.value, b.value) for a, b in REFUND_TRANSITIONS)
_REFUND = "(h.from_status IS NOT NULL AND (h.from_status, h.to_status) IN ({}))".format(
    ", ".join(f"('{a}', '{b}')" for a, b in _REFUND_PAIRS)
)
_ADJUST = "(h.from_status <=> h.to_status AND h.to_status IN ({}))".format(
    ", ".join(f"'{s.value}'" for s in sorted(ADJUSTABLE_STATUSES))
)
_INTO_PAID = f"(h.to_status = '{OrderStatus.PAID.value}' AND NOT (h.from_status <=> h.to_status))"

REVENUE_SQL = f"""
SELECT {_WINDOW.format(col="h.changed_at")} AS ws,
       o.currency,
       COALESCE(SUM(CASE WHEN {_INTO_PAID} THEN h.amount END), 0) AS gross,
       COALESCE(SUM(CASE WHEN {_REFUND} THEN h.previous_amount END), 0) AS refunds,
       COALESCE(SUM(CASE WHEN {_ADJUST} THEN h.amount - h.previous_amount END), 0) AS adjustments,
       SUM({_INTO_PAID}) AS paid_count,
       SUM({_REFUND}) AS refund_count,
       SUM({_ADJUST}) AS adjustment_count
FROM order_status_history h
JOIN orders o ON o.id = h.order_id
WHERE h.changed_at >= %(lo)s AND h.changed_at < %(hi)s
GROUP BY ws, o.currency
HAVING paid_count + refund_count + adjustment_count > 0
ORDER BY ws, o.currency
"""

# status_rows: inserts and status changes (amount edits neither enter nor leave a status),
# each with the order's previous such row; a transition's time in `from` is measured from
# that row when it entered `from`. Orders with a change in range are read from their start.
TRANSITIONS_SQL = f"""
WITH status_rows AS (
  SELECT h.order_id, h.from_status, h.to_status, h.changed_at,
         LAG(h.to_status) OVER byorder AS entered_status,
         LAG(h.changed_at) OVER byorder AS entered_at
  FROM order_status_history h
  WHERE NOT (h.from_status <=> h.to_status)
    AND h.changed_at < %(hi)s
    AND h.order_id IN (SELECT order_id FROM order_status_history
                       WHERE changed_at >= %(lo)s AND changed_at < %(hi)s)
  WINDOW byorder AS (PARTITION BY h.order_id ORDER BY h.changed_at, h.id)
), transitions AS (
  SELECT {_WINDOW.format(col="changed_at")} AS ws, from_status, to_status,
         CASE WHEN entered_status = from_status
              THEN TIMESTAMPDIFF(MICROSECOND, entered_at, changed_at) END AS micros
  FROM status_rows
  WHERE from_status IS NOT NULL AND changed_at >= %(lo)s
), ranked AS (
  SELECT ws, from_status, to_status, micros,
         ROW_NUMBER() OVER (PARTITION BY ws, from_status, to_status
                            ORDER BY micros IS NULL, micros) AS rn,
         COUNT(micros) OVER (PARTITION BY ws, from_status, to_status) AS timed
  FROM transitions
)
SELECT ws, from_status, to_status,
       COUNT(*) AS count,
       COUNT(micros) AS timed_count,
       MAX(CASE WHEN rn = CEIL(timed * 50 / 100) THEN micros END) AS p50_micros,
       MAX(CASE WHEN rn = CEIL(timed * 95 / 100) THEN micros END) AS p95_micros,
       MAX(micros) AS max_micros
FROM ranked
GROUP BY ws, from_status, to_status
ORDER BY ws, from_status, to_status
"""

ORDERS_SQL = """
SELECT id, version, updated_at FROM orders
WHERE updated_at >= %(lo)s AND updated_at < %(hi)s
"""

FAR_PAST = datetime(1970, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def _naive(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None)


def _params(window_seconds: int, lo: datetime, hi: datetime) -> dict[str, Any]:
    return {"w": window_seconds, "lo": _naive(lo), "hi": _naive(hi)}


def _start(epoch_seconds: Any) -> datetime:
    return EPOCH + timedelta(seconds=int(epoch_seconds))


def _seconds(micros: Any) -> Decimal | None:
    return None if micros is None else micros_to_seconds(int(micros))


def _money(value: Any) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


def _rows(cur: pymysql.cursors.Cursor, sql: str, params: dict[str, Any]) -> Sequence[Any]:
    cur.execute(sql, params)
    return cur.fetchall()


def revenue_windows(
    cur: pymysql.cursors.Cursor, window_seconds: int, lo: datetime, hi: datetime
) -> dict[RevenueKey, Revenue]:
    """Expected revenue per (window start, currency) for changes in [lo, hi)."""
    out: dict[RevenueKey, Revenue] = {}
    for ws, currency, gross, refunds, adjustments, paid, refunded, _adj in _rows(
        cur, REVENUE_SQL, _params(window_seconds, lo, hi)
    ):
        g, r, a = _money(gross), _money(refunds), _money(adjustments)
        out[(_start(ws), currency)] = Revenue(g, r, a, g - r + a, int(paid), int(refunded))
    return out


def transition_windows(
    cur: pymysql.cursors.Cursor, window_seconds: int, lo: datetime, hi: datetime
) -> dict[TransitionKey, Transitions]:
    """Expected transitions per (window start, from, to) for changes in [lo, hi)."""
    out: dict[TransitionKey, Transitions] = {}
    for ws, from_status, to_status, count, timed, p50, p95, top in _rows(
        cur, TRANSITIONS_SQL, _params(window_seconds, lo, hi)
    ):
        out[(_start(ws), from_status, to_status)] = Transitions(
            count=int(count),
            timed_count=int(timed),
            untimed_count=int(count) - int(timed),
            p50_seconds=_seconds(p50),
            p95_seconds=_seconds(p95),
            max_seconds=_seconds(top),
        )
    return out


def order_versions(
    cur: pymysql.cursors.Cursor, lo: datetime, hi: datetime
) -> dict[int, tuple[int, datetime]]:
    """Order id -> (version, updated_at as aware UTC) for orders last changed in [lo, hi)."""
    return {
        int(oid): (int(version), updated_at.replace(tzinfo=UTC))
        for oid, version, updated_at in _rows(cur, ORDERS_SQL, {"lo": _naive(lo), "hi": _naive(hi)})
    }


@dataclass(frozen=True)
class Truth:
    """The database's side of one audit, read from one consistent snapshot."""

    revenue: dict[RevenueKey, Revenue]
    transitions: dict[TransitionKey, Transitions]
    orders: dict[int, tuple[int, datetime]]  # order id -> (version, updated_at)


def read_truth(
    conn: pymysql.connections.Connection[pymysql.cursors.Cursor],
    window_seconds: int,
    lo: datetime,
    hi: datetime,
) -> Truth:
    """Windows and order versions for [lo, hi), all three from the same snapshot, so the
    versions and the history agree with each other whatever the load writes meanwhile."""
    with conn.cursor() as cur:
        cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        try:
            return Truth(
                revenue=revenue_windows(cur, window_seconds, lo, hi),
                transitions=transition_windows(cur, window_seconds, lo, hi),
                orders=order_versions(cur, lo, hi),
            )
        finally:
            cur.execute("COMMIT")
