"""Decoding the dataflow's output records (the fixed wire format). Pure, no IO.

- Times: ``datetime.isoformat()`` of an aware UTC datetime ("2026-11-25T00:01:00+00:00").
- Money: a JSON string with exactly two decimals ("12.50").
- ``order-revenue-1m``: key ``<window_start>|<currency>``.
- ``order-status-transitions-1m``: key ``<window_start>|<from>|<to>``; seconds are JSON
  numbers with 3 decimals, null when ``timed_count`` is 0.
- ``processed-orders``: key = order id as a string; value JSON with an integer "version".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from orderstream.reconcile.model import (
    BadRecord,
    Revenue,
    RevenueKey,
    RevenueRecord,
    TransitionKey,
    TransitionRecord,
    Transitions,
)

_MONEY = re.compile(r"-?\d+\.\d{2}")


class WireError(ValueError):
    """A record does not follow the wire format; the message says which field."""


def _object(value: bytes | None) -> dict[str, Any]:
    if value is None:
        raise WireError("value is null (tombstone)")
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise WireError(f"value is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise WireError("value is not a JSON object")
    return obj


def _field(obj: Mapping[str, Any], name: str) -> Any:
    if name not in obj:
        raise WireError(f"missing field {name!r}")
    return obj[name]


def _time(obj: Mapping[str, Any], name: str) -> datetime:
    raw = _field(obj, name)
    if not isinstance(raw, str):
        raise WireError(f"{name}={raw!r} is not an ISO-8601 string")
    try:
        t = datetime.fromisoformat(raw)
    except ValueError:
        raise WireError(f"{name}={raw!r} is not an ISO-8601 time") from None
    if t.utcoffset() is None:
        raise WireError(f"{name}={raw!r} has no UTC offset")
    return t.astimezone(UTC)


def _money(obj: Mapping[str, Any], name: str) -> Decimal:
    raw = _field(obj, name)
    if not isinstance(raw, str) or not _MONEY.fullmatch(raw):
        raise WireError(f"{name}={raw!r} is not a string with exactly two decimals")
    return Decimal(raw)


def _count(obj: Mapping[str, Any], name: str) -> int:
    raw = _field(obj, name)
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
        raise WireError(f"{name}={raw!r} is not a non-negative integer")
    return raw


def _seconds(obj: Mapping[str, Any], name: str) -> Decimal | None:
    raw = _field(obj, name)
    if raw is None:
        return None
    if not isinstance(raw, int | float) or isinstance(raw, bool):
        raise WireError(f"{name}={raw!r} is not a number")
    try:
        return Decimal(str(raw))
    except InvalidOperation:  # pragma: no cover - orjson yields only finite numbers
        raise WireError(f"{name}={raw!r} is not a number") from None


def _text(obj: Mapping[str, Any], name: str) -> str:
    raw = _field(obj, name)
    if not isinstance(raw, str) or not raw:
        raise WireError(f"{name}={raw!r} is not a non-empty string")
    return raw


def _check_key(key: str, expected: str) -> None:
    if key != expected:
        raise WireError(f"key {key!r} does not match the value (expected {expected!r})")


def decode_key(key: bytes | None) -> str:
    if key is None:
        raise WireError("record has no key")
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError(f"key {key!r} is not UTF-8") from None


def parse_revenue(key: bytes | None, value: bytes | None) -> RevenueRecord:
    k = decode_key(key)
    obj = _object(value)
    start, end = _time(obj, "window_start"), _time(obj, "window_end")
    currency = _text(obj, "currency")
    _check_key(k, f"{obj['window_start']}|{currency}")
    revenue = Revenue(
        gross=_money(obj, "gross"),
        refunds=_money(obj, "refunds"),
        adjustments=_money(obj, "adjustments"),
        net=_money(obj, "net"),
        paid_count=_count(obj, "paid_count"),
        refund_count=_count(obj, "refund_count"),
    )
    return RevenueRecord(start, end, currency, revenue, _revision(obj))


def parse_transition(key: bytes | None, value: bytes | None) -> TransitionRecord:
    k = decode_key(key)
    obj = _object(value)
    start, end = _time(obj, "window_start"), _time(obj, "window_end")
    from_status, to_status = _text(obj, "from_status"), _text(obj, "to_status")
    _check_key(k, f"{obj['window_start']}|{from_status}|{to_status}")
    transitions = Transitions(
        count=_count(obj, "count"),
        timed_count=_count(obj, "timed_count"),
        untimed_count=_count(obj, "untimed_count"),
        p50_seconds=_seconds(obj, "p50_seconds"),
        p95_seconds=_seconds(obj, "p95_seconds"),
        max_seconds=_seconds(obj, "max_seconds"),
    )
    return TransitionRecord(start, end, from_status, to_status, transitions, _revision(obj))


def parse_processed_version(value: bytes | None) -> int | None:
    """The ``version`` of a processed-orders value; None for a tombstone."""
    if value is None:
        return None
    version = _field(_object(value), "version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise WireError(f"version={version!r} is not an integer")
    return version


def _revision(obj: Mapping[str, Any]) -> int:
    revision = _count(obj, "revision")
    if revision < 1:
        raise WireError(f"revision={revision} must be >= 1")
    return revision


def parse_revenue_topic(
    topic: str, latest: Mapping[bytes | None, bytes | None]
) -> tuple[dict[RevenueKey, RevenueRecord], list[BadRecord]]:
    """The latest record per key, decoded; undecodable ones come back as :class:`BadRecord`."""
    records: dict[RevenueKey, RevenueRecord] = {}
    bad: list[BadRecord] = []
    for key, value in latest.items():
        try:
            r = parse_revenue(key, value)
        except WireError as exc:
            bad.append(BadRecord(topic, _show(key), str(exc)))
            continue
        records[(r.window_start, r.currency)] = r
    return records, bad


def parse_transition_topic(
    topic: str, latest: Mapping[bytes | None, bytes | None]
) -> tuple[dict[TransitionKey, TransitionRecord], list[BadRecord]]:
    records: dict[TransitionKey, TransitionRecord] = {}
    bad: list[BadRecord] = []
    for key, value in latest.items():
        try:
            r = parse_transition(key, value)
        except WireError as exc:
            bad.append(BadRecord(topic, _show(key), str(exc)))
            continue
        records[(r.window_start, r.from_status, r.to_status)] = r
    return records, bad


def parse_processed_topic(
    topic: str, latest: Mapping[bytes | None, bytes | None]
) -> tuple[dict[int, int], list[BadRecord]]:
    """Order id -> latest processed version (tombstoned orders are left out)."""
    versions: dict[int, int] = {}
    bad: list[BadRecord] = []
    for key, value in latest.items():
        try:
            k = decode_key(key)
            if not k.lstrip("-").isdigit():
                raise WireError(f"key {k!r} is not an order id")
            version = parse_processed_version(value)
        except WireError as exc:
            bad.append(BadRecord(topic, _show(key), str(exc)))
            continue
        if version is not None:
            versions[int(k)] = version
    return versions, bad


def _show(key: bytes | None) -> str:
    if key is None:
        return "(no key)"
    return key.decode("utf-8", errors="backslashreplace")
