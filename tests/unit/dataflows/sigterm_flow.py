"""A tiny endless flow for test_shutdown: it installs the dataflow's SIGTERM handler."""

from __future__ import annotations

import sys
import time

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from dataflows import shutdown


class _Ticks(StatefulSourcePartition[int, None]):
    def next_batch(self) -> list[int]:
        time.sleep(0.05)
        return [1]

    def snapshot(self) -> None:
        return None


class _Source(FixedPartitionedSource[int, None]):
    def list_parts(self) -> list[str]:
        return ["ticks"]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _Ticks:
        print("running", flush=True)
        return _Ticks()


def _discard(_step_id: str, _item: int) -> None:
    sys.stdout.flush()


def flow() -> Dataflow:
    shutdown.stop_on_sigterm()
    flow = Dataflow("sigterm_test")
    op.inspect("discard", op.input("ticks", flow, _Source()), _discard)
    return flow
