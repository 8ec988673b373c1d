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


def test_status_names_a_purged_binlog_in_either_form_it_takes() -> None:
    from orderstream.chaos.connect import BINLOG_GONE, HISTORY_GONE, names_cause

    mariadb = (
        "task 0 FAILED: org.apache.kafka.connect.errors.ConnectException: An exception"
        " occurred in the change event producer. (Caused by: com.github.shyiko.mysql.binlog."
        "network.ServerException: Could not find GTID state requested by slave in any binlog"
        " files. Probably the slave"
    )
    debezium = "task 0 FAILED: Last recorded offset is no longer available on the server."
    assert names_cause(mariadb, BINLOG_GONE) and names_cause(debezium, BINLOG_GONE)
    assert not names_cause(mariadb, HISTORY_GONE)
    assert not names_cause("task 0 FAILED: Connection refused", BINLOG_GONE)
