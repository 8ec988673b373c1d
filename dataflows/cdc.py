"""Debezium change events for ``shop.orders`` -> typed :class:`OrderChange` values.

Pure: no bytewax, no confluent_kafka. The connector runs with JSON values without embedded
schemas, ``decimal.handling.mode=string`` and the full ``before``/``after``/``op``/``source``
envelope. ``DATETIME(6)`` columns arrive as ``io.debezium.time.MicroTimestamp``: integer
microseconds since the epoch, the column's wall-clock value read as UTC (that is Debezium's
default ``time.precision.mode=adaptive_time_microseconds``; ``connect`` mode would send
milliseconds and is not supported). ISO-8601 strings are accepted too (e.g. from an
``isostring`` converter); a string without an offset is read as UTC. Images keep their times
as those microseconds (UTC), which the dataflow computes with, and show them as aware UTC
datetimes (``created_at``, ``updated_at``).

Anything that is not a valid order change becomes a :class:`DeadLetter` with a short reason.
A ``None`` value is a :class:`Tombstone` (Kafka's marker after a delete), not an error.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import orjson

from dataflows import envelope
from dataflows.utc import from_micros, in_range, micros
from dataflows.value import Value
from orderstream.contract import OrderStatus

_CURRENCY = re.compile(r"[A-Z]{3}")
_AMOUNT_LIMIT = Decimal(10) ** 10  # DECIMAL(12,2): at most 10 digits before the point


class Op(StrEnum):
    CREATE = "c"
    UPDATE = "u"
    DELETE = "d"
    READ = "r"  # snapshot read


_OPS: dict[str, Op] = {op.value: op for op in Op}
OP_CODES: frozenset[str] = frozenset(_OPS)


class Reason(StrEnum):
    """Why a record went to the dead-letter topic (the ``reason`` field)."""

    NOT_JSON = "not_json"
    BAD_ENVELOPE = "bad_envelope"  # not an object, unknown op, image missing for the op
    MISSING_FIELD = "missing_field"
    BAD_FIELD = "bad_field"  # id / customer_id not an integer, ids of before/after differ
    UNKNOWN_STATUS = "unknown_status"
    BAD_AMOUNT = "bad_amount"
    BAD_CURRENCY = "bad_currency"
    BAD_VERSION = "bad_version"
    BAD_TIMESTAMP = "bad_timestamp"
    WINDOW_EXPIRED = "window_expired"  # valid, but later than the window state is kept


class RawChange(Value, frozen=True):
    """One record of the CDC topic, as read: coordinates plus raw key and value."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    #: Wall-clock time (epoch seconds) the dataflow read the record; for latency metrics only.
    read_at: float | None = None

    @property
    def coordinates(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


class OrderImage(Value, frozen=True):
    """One row image (``before`` or ``after``) of ``shop.orders``."""

    order_id: int
    customer_id: int
    status: OrderStatus
    total_amount: Decimal
    currency: str
    version: int
    #: ``created_at`` and ``updated_at`` in microseconds since the Unix epoch, UTC: the
    #: connector's own encoding; converting them per change cost more than any rule.
    created_us: int
    updated_us: int

    @property
    def created_at(self) -> datetime:
        return from_micros(self.created_us)

    @property
    def updated_at(self) -> datetime:
        return from_micros(self.updated_us)


class OrderChange(Value, frozen=True):
    op: Op
    before: OrderImage | None  # set for u and d
    after: OrderImage | None  # set for c, u and r
    #: The row as this change leaves it: ``after``, for a delete ``before`` (never None).
    image: OrderImage
    source_ts_ms: int  # commit time in the database (MariaDB: whole seconds)
    source_position: str | None  # binlog file:pos:row
    raw: RawChange
    #: When the connector read the change: the envelope's ``ts_us`` (else ``ts_ms`` x 1000),
    #: microseconds since the epoch; None when absent. For latency metrics only.
    captured_us: int | None = None

    @property
    def order_id(self) -> int:
        return self.image.order_id

    @property
    def version(self) -> int:
        return self.image.version

    @property
    def event_time(self) -> datetime:
        """The after-image's ``updated_at``; for a delete, the before-image's."""
        return self.image.updated_at

    @property
    def from_status(self) -> OrderStatus | None:
        return self.before.status if self.before is not None else None


class DeadLetter(Value, frozen=True):
    reason: Reason
    detail: str
    raw: RawChange


class Tombstone(Value, frozen=True):
    raw: RawChange


Parsed = OrderChange | DeadLetter | Tombstone


class _Invalid(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def parse_change(raw: RawChange) -> Parsed:
    """Parse one CDC record; never raises."""
    if raw.value is None:
        return Tombstone(raw)
    decoded = envelope.decode(raw.value)
    if decoded is not None:
        usual = _usual_change(decoded, raw)
        if usual is not None:
            return usual
    return _parse_checked(raw)


def _usual_change(decoded: envelope.Envelope, raw: RawChange) -> OrderChange | None:
    """The change of an envelope of the usual shape (envelope.py) if every rule of the
    checked path holds for it, else None: the checked path then says which one fails."""
    op = _OPS.get(decoded.op)
    if op is None:
        return None
    needs_before, needs_after = op is Op.UPDATE or op is Op.DELETE, op is not Op.DELETE
    before = _usual_image(decoded.before) if needs_before else None
    after = _usual_image(decoded.after) if needs_after else None
    if (needs_before and before is None) or (needs_after and after is None):
        return None
    if before is not None and after is not None and before.order_id != after.order_id:
        return None
    image = after if after is not None else before
    assert image is not None  # every op needs one of them
    source = decoded.source
    file, pos = source.file, source.pos
    ts_us, ts_ms = decoded.ts_us, decoded.ts_ms
    return OrderChange(  # positional: faster (once per change)
        op,
        before,
        after,
        image,
        source.ts_ms,
        None if not file or pos is None else f"{file}:{pos}:{source.row}",
        raw,
        ts_us if ts_us is not None else None if ts_ms is None else ts_ms * 1000,
    )


def _usual_image(row: envelope.Row | None) -> OrderImage | None:
    """``row``'s image if its amount and currency hold too (the decoder checked the rest)."""
    if row is None:
        return None
    total = _checked_amount(row.total_amount)
    if not isinstance(total, Decimal) or not _is_currency(row.currency):
        return None
    return OrderImage(
        row.id,
        row.customer_id,
        row.status,
        total,
        row.currency,
        row.version,
        row.created_at,
        row.updated_at,
    )


def _parse_checked(raw: RawChange) -> Parsed:
    """Every field looked at and checked in Python; a failure says what and why."""
    assert raw.value is not None
    try:
        document = orjson.loads(raw.value)
    except orjson.JSONDecodeError as err:
        return DeadLetter(Reason.NOT_JSON, f"value is not JSON: {err}", raw)
    try:
        return _parse_envelope(document, raw)
    except _Invalid as invalid:
        return DeadLetter(invalid.reason, invalid.detail, raw)


def _parse_envelope(document: Any, raw: RawChange) -> OrderChange:
    if not isinstance(document, dict):
        raise _Invalid(Reason.BAD_ENVELOPE, "value is not a JSON object")
    if "payload" in document and "op" not in document:
        raise _Invalid(Reason.BAD_ENVELOPE, "envelope has embedded schemas; expected none")
    raw_op = document.get("op")
    op = _OPS.get(raw_op) if isinstance(raw_op, str) else None
    if op is None:
        raise _Invalid(Reason.BAD_ENVELOPE, f"op {raw_op!r} is not c/u/d/r")
    source = document.get("source")
    if not isinstance(source, dict):
        raise _Invalid(Reason.BAD_ENVELOPE, "source block missing")
    source_ts_ms = source.get("ts_ms")
    if not isinstance(source_ts_ms, int) or isinstance(source_ts_ms, bool):
        raise _Invalid(Reason.BAD_ENVELOPE, "source.ts_ms missing or not an integer")

    needs_before = op is Op.UPDATE or op is Op.DELETE
    needs_after = op is not Op.DELETE
    before = _image(document, "before") if needs_before else None
    after = _image(document, "after") if needs_after else None
    if before is not None and after is not None and before.order_id != after.order_id:
        raise _Invalid(
            Reason.BAD_FIELD, f"before.id={before.order_id} differs from after.id={after.order_id}"
        )
    image = after if after is not None else before
    assert image is not None  # every op needs one of them
    return OrderChange(
        op=op,
        before=before,
        after=after,
        image=image,
        source_ts_ms=source_ts_ms,
        source_position=_source_position(source),
        raw=raw,
        captured_us=_captured_us(document),
    )


def _captured_us(document: dict[str, Any]) -> int | None:
    ts_us, ts_ms = document.get("ts_us"), document.get("ts_ms")
    if isinstance(ts_us, int) and not isinstance(ts_us, bool):
        return ts_us
    if isinstance(ts_ms, int) and not isinstance(ts_ms, bool):
        return ts_ms * 1000
    return None


def _image(document: dict[str, Any], name: str) -> OrderImage:
    row = document.get(name)
    if not isinstance(row, dict):
        op = document.get("op")
        raise _Invalid(Reason.BAD_ENVELOPE, f"{name} image missing for op={op}")
    # Columns are checked in this order; an error message is only formatted when one fails.
    get = row.get
    return OrderImage(
        order_id=_integer(_present(get("id"), name, "id"), name, "id", Reason.BAD_FIELD),
        customer_id=_integer(
            _present(get("customer_id"), name, "customer_id"), name, "customer_id", Reason.BAD_FIELD
        ),
        status=_status(_present(get("status"), name, "status"), name),
        total_amount=_amount(_present(get("total_amount"), name, "total_amount"), name),
        currency=_currency(_present(get("currency"), name, "currency"), name),
        version=_version(_present(get("version"), name, "version"), name),
        created_us=_timestamp(_present(get("created_at"), name, "created_at"), name, "created_at"),
        updated_us=_timestamp(_present(get("updated_at"), name, "updated_at"), name, "updated_at"),
    )


def _present(value: Any, name: str, column: str) -> Any:
    if value is None:
        raise _Invalid(Reason.MISSING_FIELD, f"{name}.{column} is missing")
    return value


def _integer(value: Any, name: str, column: str, reason: Reason) -> int:
    if value.__class__ is int:
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(reason, f"{name}.{column}={value!r} is not an integer")
    return int(value)


def _version(value: Any, name: str) -> int:
    version = _integer(value, name, "version", Reason.BAD_VERSION)
    if version < 1:
        raise _Invalid(Reason.BAD_VERSION, f"{name}.version={version} must be >= 1")
    return version


#: Status and amount strings repeat across changes; a lookup is cheaper than parsing again.
_STATUSES: dict[str, OrderStatus] = {status.value: status for status in OrderStatus}


def _status(value: Any, name: str) -> OrderStatus:
    status = _STATUSES.get(value) if isinstance(value, str) else None
    if status is None:
        raise _Invalid(Reason.UNKNOWN_STATUS, f"{name}.status={value!r} is not a known status")
    return status


def _amount(value: Any, name: str) -> Decimal:
    # decimal.handling.mode=string sends strings; an integer is exact too. Floats are not.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Invalid(Reason.BAD_AMOUNT, f"{name}.total_amount={value!r} is not a decimal string")
    checked = _checked_amount(value)
    if isinstance(checked, str):
        raise _Invalid(Reason.BAD_AMOUNT, f"{name}.total_amount={value!r} {checked}")
    return checked


@functools.lru_cache(maxsize=65536)
def _checked_amount(value: str | int) -> Decimal | str:
    """The amount, or why it is not one (a cached result must not be an exception)."""
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return "is not a decimal"
    exponent = amount.as_tuple().exponent
    if not amount.is_finite() or not isinstance(exponent, int):
        return "is not a finite decimal"
    if amount < 0 or exponent < -2 or amount >= _AMOUNT_LIMIT:
        return "is not a DECIMAL(12,2) >= 0"
    return amount


@functools.lru_cache(maxsize=1024)
def _is_currency(value: str) -> bool:
    return _CURRENCY.fullmatch(value) is not None


def _currency(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _is_currency(value):
        raise _Invalid(
            Reason.BAD_CURRENCY, f"{name}.currency={value!r} is not 3 upper-case letters"
        )
    return value


def _timestamp(value: Any, name: str, column: str) -> int:
    """The column's time in microseconds since the epoch, UTC."""
    if value.__class__ is int:
        if not in_range(value):
            raise _Invalid(Reason.BAD_TIMESTAMP, f"{name}.{column}={value} is out of range")
        return int(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _Invalid(
                Reason.BAD_TIMESTAMP, f"{name}.{column}={value!r} is not ISO-8601"
            ) from None
        if parsed.tzinfo is None:
            return micros(parsed.replace(tzinfo=UTC))
        try:
            return micros(parsed.astimezone(UTC))
        except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
            raise _Invalid(
                Reason.BAD_TIMESTAMP, f"{name}.{column}={value!r} is out of range"
            ) from None
    raise _Invalid(Reason.BAD_TIMESTAMP, f"{name}.{column}={value!r} is not epoch microseconds")


def _source_position(source: dict[str, Any]) -> str | None:
    file, pos = source.get("file"), source.get("pos")
    if not file or pos is None:
        return None
    return f"{file}:{pos}:{source.get('row', 0)}"
