"""Every dead-letter reason and late-event aggregate is exported at 0 before the first event,
so that increase() sees the first one (a child that first appears at 1 stays invisible)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from dataflows import metrics
from dataflows.cdc import Reason


def test_every_dlq_reason_is_exported_from_the_start() -> None:
    assert metrics.DLQ is not None
    for reason in Reason:
        value = REGISTRY.get_sample_value("orders_dlq_total", {"reason": reason.value})
        assert value is not None, f"orders_dlq_total{{reason={reason.value!r}}} is not exported"
