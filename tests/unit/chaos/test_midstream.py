"""Counting a big transaction's rows among the CDC topic's records (connect-kill9)."""

from __future__ import annotations

import json

from orderstream.chaos.midstream import TransactionRows, order_id_of


def key(order_id: object) -> bytes:
    return json.dumps({"id": order_id}).encode()


def test_order_id_of_reads_the_cdc_key_and_refuses_anything_else() -> None:
    assert order_id_of(key(10**12 + 5)) == 10**12 + 5
    assert order_id_of(None) is None
    assert order_id_of(b"") is None
    assert order_id_of(b"not json") is None
    assert order_id_of(key("12")) is None
    assert order_id_of(key(True)) is None
    assert order_id_of(b"[1]") is None


def test_only_the_transactions_orders_count_and_redeliveries_are_duplicates() -> None:
    rows = TransactionRows(first_id=100, rows=3)
    for order_id in (99, 100, 7, 101, 103, 101):  # 99, 7 and 103 are other orders
        rows.add(key(order_id))
    assert (rows.seen, rows.distinct, rows.duplicates) == (3, 2, 1)
    assert not rows.complete
    rows.add(key(102))
    assert rows.complete and rows.distinct == 3
