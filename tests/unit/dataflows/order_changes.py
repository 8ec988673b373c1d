"""Builders of typed order changes for the unit tests of the pure modules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count

from dataflows.cdc import Op, OrderChange, OrderImage, RawChange
from dataflows.utc import micros
from orderstream.contract import OrderStatus

T0 = datetime(2026, 11, 25, tzinfo=UTC)
NOW = datetime(2030, 1, 1, tzinfo=UTC)
NOW_US = micros(NOW)
_offsets = count()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def img(
    status: str,
    version: int,
    seconds: float,
    amount: str = "10.00",
    *,
    order_id: int = 1,
    currency: str = "USD",
) -> OrderImage:
    return OrderImage(
        order_id=order_id,
        customer_id=7,
        status=OrderStatus(status),
        total_amount=Decimal(amount),
        currency=currency,
        version=version,
        created_us=micros(T0),
        updated_us=micros(at(seconds)),
    )


def change(op: str, before: OrderImage | None, after: OrderImage | None) -> OrderChange:
    offset = next(_offsets)
    return OrderChange(
        op=Op(op),
        before=before,
        after=after,
        image=after if after is not None else before,  # type: ignore[arg-type]
        source_ts_ms=1_000,
        source_position=f"bin.000001:{offset}:0",
        raw=RawChange("mysql-orders", 0, offset, None, b"{}"),
    )


def insert(after: OrderImage) -> OrderChange:
    return change("c", None, after)


def update(before: OrderImage, after: OrderImage) -> OrderChange:
    return change("u", before, after)


def delete(before: OrderImage) -> OrderChange:
    return change("d", before, None)


def snapshot(after: OrderImage) -> OrderChange:
    return change("r", None, after)
