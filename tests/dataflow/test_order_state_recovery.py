"""Per-order state through Bytewax's SQLite recovery: buckets survive a resume, and a
recovery directory of the old one-key-per-order layout, or of a run with another number of
workers, is refused with what to do."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import bytewax.operators as op
import orjson
import pytest
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulLogic
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import TestingSink, TestingSource, run_main

from dataflows.clock import frozen_clock
from dataflows.dedupe import OrderMemory
from dataflows.order_buckets import ORDERS_PER_BUCKET
from dataflows.orders import Sinks, build_flow
from dataflows.placement import ONE_WORKER, Placement
from dataflows.records import OutRecord
from dataflows.utc import micros
from orderstream.contract import OrderStatus
from tests.dataflow.flow_harness import CONFIG, NOW, T0, ChangeLog, row

OTHER = ORDERS_PER_BUCKET + 44  # an order in another bucket


def _run(
    items: Iterable[Any], recovery: Path, placement: Placement = ONE_WORKER
) -> tuple[list[OutRecord], list[OutRecord]]:
    processed: list[OutRecord] = []
    transitions: list[OutRecord] = []
    sinks = Sinks(
        TestingSink(processed), TestingSink([]), TestingSink(transitions), TestingSink([])
    )
    flow = build_flow(TestingSource(items), sinks, CONFIG, frozen_clock(NOW), placement)
    run_main(flow, epoch_interval=timedelta(0), recovery_config=RecoveryConfig(str(recovery)))  # type: ignore[no-untyped-call]
    return processed, transitions


def test_order_memories_survive_a_resume_from_the_recovery_directory(tmp_path: Path) -> None:
    init_db_dir(tmp_path, 1)  # type: ignore[no-untyped-call]
    log = ChangeLog()
    pending = row(12, "PENDING", "5.00", 1, T0)
    paid = row(12, "PAID", "5.00", 2, T0 + timedelta(seconds=5))
    other = row(OTHER, "PENDING", "9.00", 1, T0)
    first = [log.insert(pending), log.insert(other)]
    after = [
        log.redeliver(first[0]),  # duplicates: dropped only if the memories were restored
        log.redeliver(first[1]),
        log.update(pending, paid),  # times PENDING from the restored entry time
    ]
    items: list[Any] = [*first, TestingSource.EOF(), *after]

    processed, _ = _run(items, tmp_path)
    assert [orjson.loads(r.value)["order_id"] for r in processed] == [12, OTHER]
    resumed, transitions = _run(items, tmp_path)  # continues after the EOF

    values = [orjson.loads(r.value) for r in resumed]
    assert [(v["order_id"], v["version"]) for v in values] == [(12, 2)]
    (window,) = [orjson.loads(r.value) for r in transitions]
    assert (window["from_status"], window["to_status"]) == ("PENDING", "PAID")
    assert (window["timed_count"], window["p50_seconds"]) == (1, 5.0)


class _OldLayout(StatefulLogic[Any, Any, OrderMemory]):
    """What the dedupe step stored per order before buckets."""

    def on_item(self, value: Any) -> tuple[list[Any], bool]:
        return [], StatefulLogic.RETAIN

    def snapshot(self) -> OrderMemory:
        return OrderMemory(1, False, OrderStatus.PENDING, micros(NOW), micros(NOW))


def test_a_recovery_directory_of_the_per_order_layout_is_refused(tmp_path: Path) -> None:
    init_db_dir(tmp_path, 1)  # type: ignore[no-untyped-call]
    old = Dataflow("orders")  # same flow and step ids as dataflows.orders
    keyed = op.input("read_cdc", old, TestingSource([("1", None), ("300", None)]))
    kept = op.stateful("dedupe_by_order", keyed, lambda _state: _OldLayout())
    op.output("write_processed", kept, TestingSink([]))
    run_main(old, epoch_interval=timedelta(0), recovery_config=RecoveryConfig(str(tmp_path)))  # type: ignore[no-untyped-call]

    log = ChangeLog()
    record = log.insert(row(12, "PENDING", "5.00", 1, T0))
    # Bytewax rebuilds every stored key when it resumes: refused before any change.
    with pytest.raises(Exception, match="older layout.*reset-dataflow"):
        _run([record], tmp_path)


def test_a_recovery_directory_resumes_with_another_number_of_processes(tmp_path: Path) -> None:
    """Bucket keys do not depend on the worker count (placement.py): the memories written by
    a run of two processes drop a re-delivery in a run of one, and back."""
    init_db_dir(tmp_path, 1)  # type: ignore[no-untyped-call]
    log = ChangeLog()
    two_processes = Placement(processes=2, process_id=0)
    first = log.insert(row(12, "PENDING", "5.00", 1, T0))
    paid = log.update(row(12, "PENDING", "5.00", 1, T0), row(12, "PAID", "5.00", 2, T0))
    # Each run resumes after the EOF where the last one stopped.
    items: list[Any] = [first, TestingSource.EOF(), log.redeliver(first), TestingSource.EOF(), paid]
    assert len(_run(items, tmp_path, two_processes)[0]) == 1
    assert _run(items, tmp_path)[0] == []  # one process: the re-delivery is remembered
    assert len(_run(items, tmp_path, two_processes)[0]) == 1  # and back: the update passes
