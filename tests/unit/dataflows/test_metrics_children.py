"""Every dead-letter reason and late-event aggregate is exported at 0 before the first event,
so that increase() sees the first one (a child that first appears at 1 stays invisible)."""

from __future__ import annotations

from datetime import timedelta

from bytewax.testing import TimeTestingGetter
from prometheus_client import REGISTRY

from dataflows import metrics
from dataflows.cdc import Reason
from dataflows.clock import Clock
from dataflows.stateful import WindowedAggregate
from dataflows.windows import EventTimeWindows, Fold, WindowSpec
from tests.unit.dataflows.order_changes import NOW


def test_every_dlq_reason_is_exported_from_the_start() -> None:
    assert metrics.DLQ is not None
    for reason in Reason:
        value = REGISTRY.get_sample_value("orders_dlq_total", {"reason": reason.value})
        assert value is not None, f"orders_dlq_total{{reason={reason.value!r}}} is missing"


def test_late_events_of_an_aggregate_are_exported_once_it_exists() -> None:
    spec = WindowSpec(timedelta(minutes=1), timedelta(seconds=10), timedelta(hours=1))
    windows = EventTimeWindows[int, int](spec, Fold(lambda: 0, lambda t, v: t + v))
    WindowedAggregate("precreated-test", windows, Clock(now=TimeTestingGetter(NOW).get))
    labels = {"aggregate": "precreated-test"}
    assert REGISTRY.get_sample_value("orders_late_events_total", labels) == 0.0
