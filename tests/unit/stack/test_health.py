from __future__ import annotations

from orderstream.stack.components import Check
from orderstream.stack.components.dataflow import metric_sum
from orderstream.stack.components.kafka import (
    QuorumReplica,
    judge_quorum,
    parse_quorum_replication,
)
from orderstream.stack.connect import ConnectorStatus, unmatched_tables
from orderstream.stack.health import format_report

QUORUM_OUTPUT = """\
NodeId DirectoryId            LogEndOffset Lag LastFetchTimestamp LastCaughtUpTimestamp Status
1      pGbHXHfkQ7S7ZpO3ItRHWA 1200         0   1700000000000      1700000000000         Leader
2      x8KQ0AP1T2yr1ZfoR-SBSQ 1200         0   1699999999900      1699999999900         Follower
3      0w2Z4Yy0RWuvbr8W2M5Cjg 1100         100 1699999950000      1699999950000         Follower
"""


def test_parse_quorum_replication() -> None:
    replicas = parse_quorum_replication(QUORUM_OUTPUT)
    assert [r.node_id for r in replicas] == [1, 2, 3]
    assert replicas[2] == QuorumReplica(3, 100, 1699999950000, "Follower")


def test_quorum_with_a_stale_voter_is_unhealthy() -> None:
    check = judge_quorum(parse_quorum_replication(QUORUM_OUTPUT), now_ms=1700000000000)
    assert not check.healthy
    assert "2/3" in check.detail and "behind: 3" in check.detail


def test_quorum_all_caught_up_is_healthy() -> None:
    check = judge_quorum(parse_quorum_replication(QUORUM_OUTPUT), now_ms=1699999955000)
    assert check.healthy and check.detail == "leader 1, 3/3 voters caught up"


def test_quorum_without_leader_is_unhealthy() -> None:
    replicas = [QuorumReplica(2, 0, 0, "Follower"), QuorumReplica(3, 0, 0, "Follower")]
    assert not judge_quorum(replicas, now_ms=0).healthy


def test_report_names_unhealthy_components() -> None:
    report = format_report([Check("mariadb", True, "up"), Check("kafka-2", False, "missing")])
    assert report.splitlines() == [
        "OK    mariadb  up",
        "FAIL  kafka-2  missing",
        "unhealthy: kafka-2",
    ]


def test_unmatched_tables_uses_debezium_regex_semantics() -> None:
    existing = ["shop.orders", "shop.order_items", "mysql.user"]
    assert unmatched_tables(["shop.orders"], existing) == []
    assert unmatched_tables(["shop.order.*"], existing) == []
    assert unmatched_tables(["shop.no_such_table", "shop.orders"], existing) == [
        "shop.no_such_table"
    ]
    assert unmatched_tables(["shop.("], existing) == ["shop.("]


def test_connector_status_running_and_failure() -> None:
    running = ConnectorStatus("c", "RUNNING", "w1", ((0, "RUNNING", "w1", ""),))
    assert running.running and running.failure() is None
    failed = ConnectorStatus("c", "RUNNING", "w1", ((0, "FAILED", "w1", "Access denied"),))
    assert not failed.running
    assert failed.failure() == "task 0 FAILED: Access denied"
    assert not ConnectorStatus("c", "RUNNING", "w1", ()).running


def test_metric_sum_adds_labelled_samples_and_ignores_longer_names() -> None:
    text = (
        "# HELP orders_events_in_total x\n"
        "orders_events_in_total 3.0\n"
        "orders_events_in_total_created 1.7e9\n"
        'orders_dlq_total{reason="not_json"} 2.0\n'
        'orders_dlq_total{reason="bad_amount"} 1.0\n'
    )
    assert metric_sum(text, "orders_events_in_total") == 3.0
    assert metric_sum(text, "orders_dlq_total") == 3.0
    assert metric_sum(text, "orders_tombstones_total") is None
