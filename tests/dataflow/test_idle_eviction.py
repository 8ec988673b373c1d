"""Idle orders are forgotten in the running flow, on the real system clock (eviction.py).

The source sends one change, waits (returning empty batches, as a quiet Kafka partition
does) until the order's memory is gone, then sends the very same change again: had the
memory been kept, the second copy would be a dropped duplicate; forgotten, it is emitted.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from bytewax.inputs import DynamicSource, StatelessSourcePartition
from bytewax.testing import TestingSink, run_main
from prometheus_client import REGISTRY

from dataflows.cdc import RawChange
from dataflows.orders import Sinks, build_flow
from dataflows.records import OutRecord
from dataflows.settings import FlowConfig
from tests.dataflow.flow_harness import T0, ChangeLog, row

IDLE = timedelta(seconds=1)  # one-second slots: forgotten 2-3 s after the last change
DEADLINE_S = 30.0


def tracked_orders() -> float:
    return REGISTRY.get_sample_value("orders_tracked_orders") or 0.0


class _ThenAgain(StatelessSourcePartition[RawChange]):
    def __init__(self, record: RawChange, baseline: float) -> None:
        self._record = record
        self._baseline = baseline
        self._sent = 0
        self._deadline = time.monotonic() + DEADLINE_S
        self.forgotten_after_s: float | None = None
        self._sent_at = 0.0

    def next_batch(self) -> list[RawChange]:
        if self._sent == 0:
            self._sent, self._sent_at = 1, time.monotonic()
            return [self._record]
        if self._sent == 1:
            if tracked_orders() > self._baseline and time.monotonic() < self._deadline:
                return []  # still remembered: wait, as a quiet partition does
            self.forgotten_after_s = time.monotonic() - self._sent_at
            self._sent = 2
            return [self._record]
        raise StopIteration

    def next_awake(self) -> datetime | None:
        return datetime.now(UTC) + timedelta(milliseconds=50)


class ThenAgain(DynamicSource[RawChange]):
    def __init__(self, record: RawChange) -> None:
        self.record = record
        self.baseline = tracked_orders()
        self.partition: _ThenAgain | None = None

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _ThenAgain:
        self.partition = _ThenAgain(self.record, self.baseline)
        return self.partition


def test_an_idle_order_is_forgotten_and_its_replayed_change_emitted_again() -> None:
    log = ChangeLog()
    record = log.insert(row(31, "PENDING", "5.00", 1, T0))
    source = ThenAgain(record)
    processed: list[OutRecord] = []
    sinks: Sinks = Sinks(TestingSink(processed), TestingSink([]), TestingSink([]), TestingSink([]))
    config = FlowConfig(order_state_idle=IDLE)
    run_main(build_flow(source, sinks, config), epoch_interval=timedelta(seconds=1))  # type: ignore[no-untyped-call]

    assert source.partition is not None
    forgotten = source.partition.forgotten_after_s
    assert forgotten is not None and forgotten < DEADLINE_S, "the idle order was never evicted"
    # one slot = 1 s: checked 2-3 s after the change (plus scheduling slack)
    assert forgotten >= IDLE.total_seconds()
    values: list[Any] = [orjson.loads(r.value) for r in processed]
    assert [(v["order_id"], v["version"]) for v in values] == [(31, 1), (31, 1)]
    assert tracked_orders() == pytest.approx(source.baseline + 1)  # the replay is kept again
