"""Row changes in shop.orders reach mysql-orders as full Debezium envelopes."""

from __future__ import annotations

from typing import Any

import pymysql

from tests.integration.conftest import (
    CdcEvent,
    TopicTail,
    change_status,
    insert_order,
    unique_order_ids,
)


def events_for(events: list[CdcEvent], order_id: int) -> list[CdcEvent]:
    return [e for e in events if e.order_id == order_id and e.value is not None]


def test_insert_arrives_with_full_after_image(
    db: pymysql.connections.Connection[Any], cdc_tail: TopicTail
) -> None:
    (order_id,) = unique_order_ids(1)
    insert_order(db, order_id)

    events = cdc_tail.poll_for(
        f"the insert of order {order_id}", lambda ev: len(events_for(ev, order_id)) >= 1, 60
    )
    (event,) = events_for(events, order_id)
    assert event.value is not None
    assert event.value["op"] == "c"
    assert event.value["before"] is None
    after = event.value["after"]
    assert set(after) == {
        "id",
        "customer_id",
        "status",
        "total_amount",
        "currency",
        "version",
        "created_at",
        "updated_at",
    }
    assert after["id"] == order_id
    assert after["status"] == "PENDING"
    assert after["total_amount"] == "19.99"  # decimal.handling.mode=string
    assert after["currency"] == "EUR"
    assert after["version"] == 1
    source = event.value["source"]
    assert source["db"] == "shop" and source["table"] == "orders"
    assert source["file"] and source["pos"] > 0


def test_update_carries_before_and_after(
    db: pymysql.connections.Connection[Any], cdc_tail: TopicTail
) -> None:
    (order_id,) = unique_order_ids(1)
    insert_order(db, order_id)
    change_status(db, order_id, "PAID")

    events = cdc_tail.poll_for(
        f"insert and update of order {order_id}", lambda ev: len(events_for(ev, order_id)) >= 2, 60
    )
    insert, update = events_for(events, order_id)
    assert update.value is not None
    assert update.value["op"] == "u"
    assert update.value["before"]["status"] == "PENDING"
    assert update.value["before"]["version"] == 1
    assert update.value["after"]["status"] == "PAID"
    assert update.value["after"]["version"] == 2
    assert update.value["after"]["updated_at"] >= update.value["before"]["updated_at"]
    # both changes of one order share a key, hence a partition: their order is kept
    assert insert.partition == update.partition and insert.offset < update.offset
