"""The wire format of every output topic (keys and JSON values), serialized with orjson.

Pure: no bytewax, no confluent_kafka. Another engineer's reconcile tool reads these formats;
docs/dataflow.md describes them. Times are ``datetime.isoformat()`` of aware UTC datetimes;
money is a string with exactly two decimals; durations are seconds rounded to milliseconds.
"""

from __future__ import annotations

import base64
import functools
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import orjson

from dataflows.cdc import DeadLetter, Op, OrderChange, RawChange, Reason
from dataflows.dedupe import TrackedChange
from dataflows.revenue import RevenueTotals
from dataflows.transitions import TransitionStats, summarize
from dataflows.utc import from_micros
from dataflows.value import Value
from dataflows.windows import WindowResult

_CENT = Decimal("0.01")


class LatencyMarks(Value, frozen=True):
    """When the change behind an output record passed each stage, in epoch seconds (None:
    unknown); the sink turns them into the latency histograms (docs/dataflow.md, Metrics)."""

    committed_at: float | None  # the row's updated_at, for inserts and updates only
    captured_at: float | None  # the connector read it (envelope ts_us)
    read_at: float | None  # the dataflow read it from the CDC topic


class OutRecord(Value, frozen=True):
    """One record for an output topic; ``latency`` feeds the latency metrics."""

    key: str
    value: bytes
    latency: LatencyMarks | None = None


def iso(moment: datetime) -> str:
    """ISO-8601 in UTC, e.g. ``2026-11-25T00:01:00+00:00``."""
    if moment.tzinfo is UTC:
        return moment.isoformat()  # parsed and clock times already are: no conversion
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}")
    return moment.astimezone(UTC).isoformat()


@functools.lru_cache(maxsize=65536)
def money(amount: Decimal) -> str:
    """Exactly two decimals, never ``-0.00``. Cached: amounts repeat (prices, totals)."""
    cents = amount.quantize(_CENT, rounding=ROUND_HALF_EVEN)
    if cents == 0:
        cents = Decimal("0.00")
    return format(cents, "f")


def seconds(milliseconds: int | None) -> float | None:
    return None if milliseconds is None else round(milliseconds / 1000, 3)


def _dumps(value: dict[str, Any]) -> bytes:
    return orjson.dumps(value)


def processed_order(tracked: TrackedChange, processed_at: datetime | str) -> OutRecord:
    """``processed_at`` may be given already formatted (one ``iso`` for a whole batch)."""
    change = tracked.change
    image = change.image
    value = {
        "order_id": image.order_id,
        "version": image.version,
        # orjson writes a StrEnum as its value, so no str() per field.
        "op": change.op,
        "status": image.status,
        "previous_status": None if change.before is None else change.before.status,
        "customer_id": image.customer_id,
        "total_amount": money(image.total_amount),
        "currency": image.currency,
        # Aware UTC datetimes: orjson writes them as ``iso`` does, in C.
        "created_at": from_micros(image.created_us),
        "updated_at": from_micros(image.updated_us),
        "source_ts_ms": change.source_ts_ms,
        "source_position": change.source_position,
        "processed_at": processed_at if isinstance(processed_at, str) else iso(processed_at),
        "anomalies": tracked.anomalies,  # orjson writes a tuple as an array
    }
    return OutRecord(str(image.order_id), _dumps(value), latency_marks(change))


def latency_marks(change: OrderChange) -> LatencyMarks:
    """The row's ``updated_at`` is the commit time only for an insert or update (it is set
    by the application in the committing transaction); a delete's image and a snapshot read
    carry an older one."""
    op, captured_us = change.op, change.captured_us
    return LatencyMarks(  # positional: faster (once per processed record)
        change.image.updated_us / 1_000_000 if op is Op.CREATE or op is Op.UPDATE else None,
        None if captured_us is None else captured_us / 1_000_000,
        change.raw.read_at,
    )


def revenue_window(currency: str, result: WindowResult[RevenueTotals]) -> OutRecord:
    totals = result.totals
    start = iso(result.window_start)
    value = {
        "window_start": start,
        "window_end": iso(result.window_end),
        "currency": currency,
        "gross": money(totals.gross),
        "refunds": money(totals.refunds),
        "adjustments": money(totals.adjustments),
        "net": money(totals.net),
        "paid_count": totals.paid_count,
        "refund_count": totals.refund_count,
        "revision": result.revision,
    }
    return OutRecord(f"{start}|{currency}", _dumps(value))


def transitions_window(pair: str, result: WindowResult[TransitionStats]) -> OutRecord:
    """``pair`` is ``FROM|TO``."""
    from_status, to_status = pair.split("|", 1)
    summary = summarize(result.totals)
    start = iso(result.window_start)
    value = {
        "window_start": start,
        "window_end": iso(result.window_end),
        "from_status": from_status,
        "to_status": to_status,
        "count": summary.count,
        "timed_count": summary.timed_count,
        "untimed_count": summary.untimed_count,
        "p50_seconds": seconds(summary.p50_ms),
        "p95_seconds": seconds(summary.p95_ms),
        "max_seconds": seconds(summary.max_ms),
        "revision": result.revision,
    }
    return OutRecord(f"{start}|{pair}", _dumps(value))


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")


def dead_letter(letter: DeadLetter, failed_at: datetime) -> OutRecord:
    raw = letter.raw
    value = {
        "reason": str(letter.reason),
        "detail": letter.detail,
        "source_topic": raw.topic,
        "source_partition": raw.partition,
        "source_offset": raw.offset,
        "raw_key": _b64(raw.key),
        "raw_value": _b64(raw.value),
        "failed_at": iso(failed_at),
    }
    return OutRecord(raw.coordinates, _dumps(value))


def expired_change(raw: RawChange, window_start: datetime, aggregate: str) -> DeadLetter:
    """A valid change too late to correct its window (its totals are no longer kept)."""
    detail = (
        f"{aggregate} window {iso(window_start)} was closed and its totals dropped "
        "(ORDERSTREAM_WINDOW_RETENTION_SECONDS); the change cannot correct it"
    )
    return DeadLetter(Reason.WINDOW_EXPIRED, detail, raw)
