"""`orderstream reconcile` against the live stack.

Ground truth: a hand-written history, written the way the application writes (one
transaction per change, order row and history row together), in an hour of 2001 that
holds no other data, with order ids of its own; the SQL must give the hand-computed windows.
Comparison: per-test topics (ORDERSTREAM_TOPIC_*) hold "dataflow output" that the test
produces itself, right or deliberately wrong; the CLI must exit 0 or 1 accordingly.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from confluent_kafka.admin import AdminClient

from orderstream.loadgen.planner import PlanConfig, plan
from orderstream.reconcile import truth
from orderstream.reconcile.model import (
    Revenue,
    RevenueKey,
    TransitionKey,
    Transitions,
    iso,
    window_start,
)
from orderstream.settings import Settings
from tests.integration.conftest import free_ports
from tests.integration.reconcile_support import (
    Conn,
    D,
    Scenario,
    Step,
    Topics,
    W,
    diff_rows,
    free_ids,
    per_test_topics,
    processed_record,
    produce,
    reconcile,
    revenue_record,
    transition_record,
    written_history,
)
from tests.unit.reconcile import reference

pytestmark = pytest.mark.integration


# --- a hand-written history -----------------------------------------------------------------


CURRENCIES = {
    0: "USD",
    1: "USD",
    2: "EUR",
    3: "USD",
    **dict.fromkeys(range(4, 24), "EUR"),
    24: "USD",
    25: "EUR",
}
STEPS = [
    # window 0: order 0 PENDING -> PAID (4 s) -> amount edit -> SHIPPED (15 s in PAID) ...
    Step(0, 1, "PENDING", "100.00"),
    Step(1, 2, "PAID", "50.00"),  # inserted as PAID: gross
    Step(2, 3, "PENDING", "30.00"),
    Step(0, 5, "PAID", "100.00"),
    Step(0, 10, "PAID", "90.00"),  # adjustment -10
    Step(1, 12, "CANCELLED", "50.00"),  # refund 50, 10 s in PAID
    Step(2, 13.5, "CANCELLED", "30.00"),  # not a refund, 10.5 s in PENDING
    Step(0, 20, "SHIPPED", "90.00"),  # 15 s in PAID: the amount edit does not re-enter PAID
    # window 1
    Step(3, 61, "PENDING", "20.00"),
    Step(3, 61.0005, "PAID", "20.00"),  # 0.0005 s -> 0.001
    Step(0, 65, "REFUNDED", "90.00"),  # refund 90, 45 s in SHIPPED
    # window 2: 20 EUR orders, i seconds in PENDING each -> p50 10, p95 19, max 20
    *[Step(3 + i, 120 + i / 100, "PENDING", "1.00") for i in range(1, 21)],
    *[Step(3 + i, 120 + i / 100 + i, "PAID", "1.00") for i in range(1, 21)],
    # and illegal transitions: money follows (from, to) only
    Step(24, 125, "PENDING", "7.50"),
    Step(24, 127, "SHIPPED", "7.50"),  # illegal, 2 s in PENDING
    Step(24, 130, "PAID", "7.50"),  # illegal, into PAID: gross; 3 s in SHIPPED
    # window 3: DELIVERED amount edit and refund
    Step(25, 180, "PAID", "40.00"),
    Step(25, 181, "SHIPPED", "40.00"),
    Step(25, 182, "DELIVERED", "40.00"),
    Step(25, 183, "DELIVERED", "45.00"),  # adjustment +5
    Step(25, 190, "REFUNDED", "45.00"),  # refund 45, 8 s in DELIVERED (edit ignored)
]


def expected_revenue(w0: datetime) -> dict[RevenueKey, Revenue]:
    w = [w0 + timedelta(minutes=i) for i in range(4)]
    return {
        (w[0], "USD"): Revenue(D("150.00"), D("50.00"), D("-10.00"), D("90.00"), 2, 1),
        (w[1], "USD"): Revenue(D("20.00"), D("90.00"), D("0.00"), D("-70.00"), 1, 1),
        (w[2], "EUR"): Revenue(D("20.00"), D("0.00"), D("0.00"), D("20.00"), 20, 0),
        (w[2], "USD"): Revenue(D("7.50"), D("0.00"), D("0.00"), D("7.50"), 1, 0),
        (w[3], "EUR"): Revenue(D("40.00"), D("45.00"), D("5.00"), D("0.00"), 1, 1),
    }


def expected_transitions(w0: datetime) -> dict[TransitionKey, Transitions]:
    w = [w0 + timedelta(minutes=i) for i in range(4)]

    def one(seconds: str) -> Transitions:
        return Transitions(1, 1, 0, D(seconds), D(seconds), D(seconds))

    return {
        (w[0], "PENDING", "PAID"): one("4.000"),
        (w[0], "PAID", "CANCELLED"): one("10.000"),
        (w[0], "PENDING", "CANCELLED"): one("10.500"),
        (w[0], "PAID", "SHIPPED"): one("15.000"),
        (w[1], "PENDING", "PAID"): one("0.001"),
        (w[1], "SHIPPED", "REFUNDED"): one("45.000"),
        (w[2], "PENDING", "PAID"): Transitions(20, 20, 0, D("10.000"), D("19.000"), D("20.000")),
        (w[2], "PENDING", "SHIPPED"): one("2.000"),
        (w[2], "SHIPPED", "PAID"): one("3.000"),
        (w[3], "PAID", "SHIPPED"): one("1.000"),
        (w[3], "SHIPPED", "DELIVERED"): one("1.000"),
        (w[3], "DELIVERED", "REFUNDED"): one("8.000"),
    }


@pytest.fixture
def scenario(db: Conn) -> Iterator[Scenario]:
    with written_history(db, STEPS, CURRENCIES) as written:
        yield written


# --- ground truth in SQL ----------------------------------------------------------------------


def test_ground_truth_sql_equals_hand_computed_windows(db: Conn, scenario: Scenario) -> None:
    with db.cursor() as cur:
        revenue = truth.revenue_windows(cur, W, scenario.start, scenario.end)
        transitions = truth.transition_windows(cur, W, scenario.start, scenario.end)
        versions = truth.order_versions(cur, scenario.start, scenario.end)
    assert revenue == expected_revenue(scenario.start)
    assert transitions == expected_transitions(scenario.start)
    assert {oid: v for oid, (v, _) in versions.items()} == scenario.versions


def test_ground_truth_respects_the_range(db: Conn, scenario: Scenario) -> None:
    w1, w3 = scenario.start + timedelta(minutes=1), scenario.start + timedelta(minutes=3)
    with db.cursor() as cur:
        revenue = truth.revenue_windows(cur, W, w1, w3)
        transitions = truth.transition_windows(cur, W, w1, w3)
    assert revenue == {k: v for k, v in expected_revenue(scenario.start).items() if w1 <= k[0] < w3}
    # entry times before the range still count: SHIPPED -> REFUNDED is 45 s, not untimed
    assert transitions == {
        k: v for k, v in expected_transitions(scenario.start).items() if w1 <= k[0] < w3
    }


def test_ground_truth_sql_equals_reference_on_generated_history(db: Conn) -> None:
    """The SQL and the step-by-step Python semantics agree on a loadgen history with illegal
    transitions and amount edits (whatever else is in the database at the same time)."""
    first_id = free_ids(db, 1)[0] // 1_000_000 * 1_000_000 + 1_000_000
    seed = random.randrange(2**31)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "orderstream.loadgen",
            "--rate",
            "150",
            "--duration",
            "3",
            "--seed",
            str(seed),
            "--first-id",
            str(first_id),
            "--illegal-rate",
            "0.2",
            "--customers",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(list(plan(PlanConfig(rate=150, duration=3, seed=seed)))) == 450
    with db.cursor() as cur:
        cur.execute(
            "SELECT MIN(changed_at), MAX(changed_at) FROM order_status_history"
            " WHERE order_id >= %s AND order_id < %s",
            (first_id, first_id + 1_000_000),
        )
        first, last = cur.fetchone()
    lo = window_start(first, W)
    hi = window_start(last, W) + timedelta(seconds=W)
    try:
        with db.cursor() as cur:  # one consistent snapshot for both computations
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            revenue = truth.revenue_windows(cur, W, lo, hi)
            transitions = truth.transition_windows(cur, W, lo, hi)
            naive_hi = hi.replace(tzinfo=None)
            cur.execute(
                "SELECT h.id, h.order_id, h.from_status, h.to_status, h.previous_amount,"
                " h.amount, h.changed_at FROM order_status_history h WHERE h.changed_at < %s"
                " AND h.order_id IN (SELECT order_id FROM order_status_history"
                " WHERE changed_at >= %s AND changed_at < %s)",
                (naive_hi, lo.replace(tzinfo=None), naive_hi),
            )
            rows = [reference.HistoryRow(*r) for r in cur.fetchall()]
            cur.execute(
                "SELECT id, currency FROM orders WHERE id IN %s", ([r.order_id for r in rows],)
            )
            currency_of = dict(cur.fetchall())
    finally:
        db.commit()
    ref_revenue, ref_transitions = reference.expected_windows(rows, currency_of, W)
    assert revenue == {k: v for k, v in ref_revenue.items() if lo <= k[0] < hi}
    assert transitions == {k: v for k, v in ref_transitions.items() if lo <= k[0] < hi}
    assert any(k[1:] == ("PENDING", "PAID") for k in transitions)


# --- the CLI against per-test topics ------------------------------------------------------------


@pytest.fixture
def topics(admin: AdminClient) -> Iterator[Topics]:
    with per_test_topics(admin) as names:
        yield names


def publish_correct_output(settings: Settings, topics: Topics, scenario: Scenario) -> None:
    produce(
        settings,
        topics.revenue,
        [revenue_record(k, v) for k, v in expected_revenue(scenario.start).items()],
    )
    produce(
        settings,
        topics.transitions,
        [transition_record(k, v) for k, v in expected_transitions(scenario.start).items()],
    )
    produce(
        settings,
        topics.processed,
        [processed_record(oid, v) for oid, v in scenario.versions.items()],
    )



def test_matching_output_exits_0(
    settings: Settings, topics: Topics, scenario: Scenario
) -> None:
    # a wrong first emission corrected by revision 2: the latest record per key wins
    key = (scenario.start, "USD")
    wrong = Revenue(D("1.00"), D("0.00"), D("0.00"), D("1.00"), 1, 0)
    produce(settings, topics.revenue, [revenue_record(key, wrong)])
    publish_correct_output(settings, topics, scenario)
    result = reconcile(topics, scenario)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RESULT: OK" in result.stdout
    assert "revenue      5 keys checked, 0 mismatched" in result.stdout
    assert "transitions  12 keys checked, 0 mismatched" in result.stdout
    assert f"processed    {len(scenario.versions)} orders checked, 0 mismatched" in result.stdout


def test_wrong_aggregate_is_reported_and_exits_1(
    settings: Settings, topics: Topics, scenario: Scenario
) -> None:
    publish_correct_output(settings, topics, scenario)
    w1 = scenario.start + timedelta(minutes=1)
    right = expected_revenue(scenario.start)[(w1, "USD")]
    off_by_a_cent = Revenue(
        right.gross,
        D("89.99"),
        right.adjustments,
        D("-69.99"),
        right.paid_count,
        right.refund_count,
    )
    t_key = (scenario.start + timedelta(minutes=2), "PENDING", "PAID")
    t_right = expected_transitions(scenario.start)[t_key]
    slow_p95 = Transitions(20, 20, 0, t_right.p50_seconds, D("19.5"), t_right.max_seconds)
    produce(settings, topics.revenue, [revenue_record((w1, "USD"), off_by_a_cent, 2)])
    produce(settings, topics.transitions, [transition_record(t_key, slow_p95, 2)])
    result = reconcile(topics, scenario)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "RESULT: MISMATCH" in result.stdout
    assert sorted(diff_rows(result.stdout)) == sorted(
        [
            [iso(w1), "USD", "refunds", "90.00", "89.99"],
            [iso(w1), "USD", "net", "-70.00", "-69.99"],
            [iso(t_key[0]), "PENDING->PAID", "p95_seconds", "19.000", "19.5"],
        ]
    )


def test_untimed_transitions_compare_counts_only(
    settings: Settings, topics: Topics, scenario: Scenario
) -> None:
    publish_correct_output(settings, topics, scenario)
    t_key = (scenario.start + timedelta(minutes=2), "PENDING", "PAID")
    partly_untimed = Transitions(20, 15, 5, D("3.0"), D("4.0"), D("5.0"))
    produce(settings, topics.transitions, [transition_record(t_key, partly_untimed, 2)])
    result = reconcile(topics, scenario)
    assert result.returncode == 0, result.stdout
    assert "timings not comparable for 1" in result.stdout
    produce(
        settings,
        topics.transitions,
        [transition_record(t_key, Transitions(19, 14, 5, None, None, None), 3)],
    )
    result = reconcile(topics, scenario)
    assert result.returncode == 1
    assert diff_rows(result.stdout) == [[iso(t_key[0]), "PENDING->PAID", "count", "20", "19"]]


def test_missing_latest_version_in_processed_orders_exits_1(
    settings: Settings, topics: Topics, scenario: Scenario
) -> None:
    publish_correct_output(settings, topics, scenario)
    order_id = scenario.ids[0]  # version 5: PENDING, PAID, edit, SHIPPED, REFUNDED
    assert scenario.versions[order_id] == 5
    produce(settings, topics.processed, [processed_record(order_id, 4)])  # latest wins
    result = reconcile(topics, scenario)
    assert result.returncode == 1, result.stdout + result.stderr
    assert diff_rows(result.stdout) == [["-", "order", str(order_id), "version", "5", "4"]]


def test_open_windows_are_reported_not_judged(topics: Topics, scenario: Scenario) -> None:
    # nothing published, but with an allowed lateness longer than the time since 2001 every
    # window of the scenario is still open and every order pending: nothing to judge yet
    env = {**topics.env(), "ORDERSTREAM_ALLOWED_LATENESS_SECONDS": str(40 * 365 * 24 * 3600)}
    result = reconcile(topics, scenario, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "revenue      0 keys checked, 0 mismatched, 5 open" in result.stdout
    assert "transitions  0 keys checked, 0 mismatched, 12 open" in result.stdout
    assert (
        f"processed    0 orders checked, 0 mismatched, {len(scenario.versions)} pending"
        in result.stdout
    )
    assert "open windows (not judged yet): 4" in result.stdout
    result = reconcile(topics, scenario, "--wait", "1", env=env)
    assert result.returncode == 4, result.stdout + result.stderr




def test_missing_topic_exits_3_naming_it(topics: Topics, scenario: Scenario) -> None:
    env = {**topics.env(), "ORDERSTREAM_TOPIC_REVENUE": f"no-such-topic-{uuid.uuid4().hex[:8]}"}
    result = reconcile(topics, scenario, env=env)
    assert result.returncode == 3
    assert "no-such-topic-" in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_unreachable_kafka_exits_3(scenario: Scenario) -> None:
    env = {**os.environ, "ORDERSTREAM_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_ports(1)[0]}"}
    result = reconcile(None, scenario, env=env)
    assert result.returncode == 3
    assert "kafka" in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_unreachable_database_and_bad_time_exit_nonzero() -> None:
    env = {**os.environ, "ORDERSTREAM_DB_PORT": str(free_ports(1)[0])}
    result = subprocess.run(
        [sys.executable, "-m", "orderstream.reconcile"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 3 and "database" in result.stderr, result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "orderstream.reconcile", "--from", "noonish"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "--from" in result.stderr
    assert result.stderr.count("\n") == 1
