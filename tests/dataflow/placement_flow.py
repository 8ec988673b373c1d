"""A flow for tests/dataflow/test_placement.py: input partitions listed as ``CdcSource`` lists
them and items keyed as ``parse_cdc`` keys order buckets (dataflows.placement), each recording
which process handled it. Run by ``python -m bytewax.run tests.dataflow.placement_flow``."""

from __future__ import annotations

import os
import sys
from typing import Any

import bytewax.operators as op
import orjson
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from dataflows.placement import Placement, bucket_key
from dataflows.settings import bytewax_placement

PARTITIONS = 6
BUCKETS = 40
#: Each process appends its records to ``<OUTPUT>-<pid>``.
OUTPUT_VARIABLE = "PLACEMENT_TEST_OUTPUT"


class _Partitions(FixedPartitionedSource[tuple[int, int, int], None]):
    def __init__(self, placement: Placement) -> None:
        self._placement = placement

    def list_parts(self) -> list[str]:
        return [str(p) for p in range(PARTITIONS) if self._placement.reads(p)]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _Buckets:
        return _Buckets(int(for_part))


class _Buckets(StatefulSourcePartition[tuple[int, int, int], None]):
    """(partition, bucket, pid of the reader) for every bucket, in one batch."""

    def __init__(self, partition: int) -> None:
        self._partition = partition
        self._done = False

    def next_batch(self) -> list[tuple[int, int, int]]:
        if self._done:
            raise StopIteration
        self._done = True
        return [(self._partition, bucket, os.getpid()) for bucket in range(BUCKETS)]

    def snapshot(self) -> None:
        return None


class _Lines(DynamicSink[Any]):
    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Writer:
        return _Writer(f"{os.environ[OUTPUT_VARIABLE]}-{os.getpid()}")


class _Writer(StatelessSinkPartition[Any]):
    def __init__(self, path: str) -> None:
        self._path = path

    def write_batch(self, items: list[Any]) -> None:
        with open(self._path, "ab") as out:
            out.writelines(orjson.dumps(item) + b"\n" for item in items)


def flow() -> Dataflow:
    placement = bytewax_placement(sys.argv[1:], os.environ)
    built = Dataflow("placement")
    read = op.input("read", built, _Partitions(placement))
    keyed = op.key_on("key", read, lambda item: bucket_key(item[0], item[1]))

    def handle(state: None, item: tuple[int, int, int]) -> tuple[None, dict[str, int]]:
        partition, bucket, reader = item
        return None, {
            "partition": partition,
            "bucket": bucket,
            "reader": reader,
            "keeper": os.getpid(),
        }

    kept = op.stateful_map("keep", keyed, handle)
    op.output("write", op.map("value", kept, lambda keyed_item: keyed_item[1]), _Lines())
    return built
