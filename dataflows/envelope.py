"""The usual Debezium envelope of ``shop.orders``, decoded by msgspec into typed structs.

Pure: no bytewax, no confluent_kafka. Decoding into structs checks every field's JSON type in
C and skips the fields the dataflow does not read (most of ``source``), which takes about
half the time of ``orjson.loads`` into dicts plus the type checks in Python. It accepts only
the shape the connector writes (integers where integers belong, strings for amounts and
statuses, epoch microseconds for ``DATETIME(6)``) and, checked in C as it decodes, the
column rules that cost next to nothing there: a known status, a version >= 1, times a
datetime can hold (a ``pattern`` for the currency cost more than the whole rest of the
decode; cdc.py checks it). Anything else decodes to ``None``, and
:func:`dataflows.cdc.parse_change` takes its checked path, which names what is wrong.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from dataflows.utc import HIGHEST_MICROS, LOWEST_MICROS
from orderstream.contract import OrderStatus

#: orjson reads integers up to 2**64 - 1 as ``int`` and larger ones as ``float`` (which the
#: checked path rejects), so the fast path must not accept more; msgspec's bounds stop at
#: int64, and the few larger integers take the checked path.
Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
Version = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
Micros = Annotated[int, msgspec.Meta(ge=LOWEST_MICROS, le=HIGHEST_MICROS)]


class Row(msgspec.Struct):
    """A ``before`` or ``after`` image; every column is required."""

    id: Int
    customer_id: Int
    status: OrderStatus
    total_amount: str
    currency: str
    version: Version
    created_at: Micros
    updated_at: Micros


class Source(msgspec.Struct):
    ts_ms: Int
    # Formatted as cdc._source_position does; other JSON types take the checked path.
    file: str | None = None
    pos: Int | None = None
    row: Int | None = 0


class Envelope(msgspec.Struct):
    op: str
    source: Source
    before: Row | None = None
    after: Row | None = None
    ts_us: Int | None = None
    ts_ms: Int | None = None


_DECODER = msgspec.json.Decoder(Envelope)


def decode(value: bytes) -> Envelope | None:
    """The envelope, or None when ``value`` is not of the usual shape (or not JSON)."""
    try:
        return _DECODER.decode(value)
    except (msgspec.MsgspecError, RecursionError):
        return None
