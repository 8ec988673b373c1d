"""Windows with one kind of change only: inserts only, amount edits only.

An insert's history row has ``from_status`` NULL. The ground truth once let that NULL turn a
window's flag sums into NULL, and dropped the window: an order inserted as PAID into an
otherwise quiet minute was reported by the pipeline as 42.42 while the audit expected 0.00.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from confluent_kafka.admin import AdminClient

from orderstream.reconcile import truth
from orderstream.reconcile.model import Revenue, RevenueKey
from orderstream.settings import Settings
from tests.integration.reconcile_support import (
    Conn,
    D,
    Scenario,
    Step,
    Topics,
    W,
    per_test_topics,
    processed_record,
    produce,
    reconcile,
    revenue_record,
    written_history,
)

pytestmark = pytest.mark.integration

CURRENCIES = {0: "USD", 1: "USD", 2: "EUR"}
STEPS = [
    # window 0: inserts only
    Step(0, 5, "PAID", "42.42"),  # inserted as PAID: gross
    Step(1, 6, "PENDING", "10.00"),
    Step(2, 7, "PAID", "30.00"),  # alone in its (window, currency): the case that was dropped
    # window 1: amount edits only
    Step(0, 65, "PAID", "40.00"),  # -2.42
    Step(2, 70, "PAID", "31.50"),  # +1.50
    Step(1, 75, "PENDING", "12.00"),  # an edit in PENDING moves no money
]


def expected(scenario: Scenario) -> dict[RevenueKey, Revenue]:
    w0, w1 = scenario.start, scenario.start + timedelta(seconds=W)
    return {
        (w0, "USD"): Revenue(D("42.42"), D("0.00"), D("0.00"), D("42.42"), 1, 0),
        (w0, "EUR"): Revenue(D("30.00"), D("0.00"), D("0.00"), D("30.00"), 1, 0),
        (w1, "USD"): Revenue(D("0.00"), D("0.00"), D("-2.42"), D("-2.42"), 0, 0),
        (w1, "EUR"): Revenue(D("0.00"), D("0.00"), D("1.50"), D("1.50"), 0, 0),
    }


@pytest.fixture
def scenario(db: Conn) -> Iterator[Scenario]:
    with written_history(db, STEPS, CURRENCIES) as written:
        yield written


@pytest.fixture
def topics(admin: AdminClient) -> Iterator[Topics]:
    with per_test_topics(admin) as names:
        yield names


def test_ground_truth_keeps_inserts_only_and_edits_only_windows(
    db: Conn, scenario: Scenario
) -> None:
    with db.cursor() as cur:
        revenue = truth.revenue_windows(cur, W, scenario.start, scenario.end)
        transitions = truth.transition_windows(cur, W, scenario.start, scenario.end)
    assert revenue == expected(scenario)
    assert transitions == {}  # inserts and amount edits are not status transitions


def test_reconcile_exits_0_on_inserts_only_and_edits_only_windows(
    settings: Settings, topics: Topics, scenario: Scenario
) -> None:
    produce(settings, topics.revenue, [revenue_record(k, v) for k, v in expected(scenario).items()])
    produce(
        settings, topics.processed, [processed_record(o, v) for o, v in scenario.versions.items()]
    )
    result = reconcile(topics, scenario)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "revenue      4 keys checked, 0 mismatched" in result.stdout, result.stdout
    assert "processed    3 orders checked, 0 mismatched" in result.stdout, result.stdout
