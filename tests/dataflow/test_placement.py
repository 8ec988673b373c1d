"""dataflows.placement against Bytewax itself: keys go to the worker it predicts, and with
one worker per process an order bucket's state is kept by the process that reads its
partition (no change crosses between processes to be deduplicated)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import bytewax.operators as op
import orjson
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, cluster_main

from dataflows.placement import worker_of
from tests.dataflow.placement_flow import BUCKETS, OUTPUT_VARIABLE, PARTITIONS
from tests.integration.conftest import free_ports

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("workers", [2, 3])
def test_bytewax_routes_each_key_to_the_worker_placement_predicts(workers: int) -> None:
    keys = [f"{p}/{b}" for p in range(PARTITIONS) for b in range(BUCKETS)]
    flow = Dataflow("routing")
    keyed = op.key_on("key", op.input("in", flow, TestingSource(keys)), lambda key: key)
    threads = op.stateful_map("keep", keyed, lambda _, key: (None, threading.get_ident()))
    seen: list[tuple[str, int]] = []
    op.output("out", threads, TestingSink(seen))
    cluster_main(flow, [], 0, worker_count_per_proc=workers)  # type: ignore[no-untyped-call]

    predicted_by_thread: dict[int, set[int]] = {}
    for key, thread in seen:
        predicted_by_thread.setdefault(thread, set()).add(worker_of(key, workers))
    assert len(seen) == len(keys)
    # Every worker thread got the keys of exactly one predicted worker, each a different one.
    assert sorted(w for ws in predicted_by_thread.values() for w in ws) == list(range(workers))


def test_with_one_worker_per_process_buckets_stay_with_the_process_reading_them(
    tmp_path: Path,
) -> None:
    addresses = ";".join(f"127.0.0.1:{port}" for port in free_ports(2))
    output = tmp_path / "records"
    command = [sys.executable, "-m", "bytewax.run", "tests.dataflow.placement_flow", "-w", "1"]
    env = {**os.environ, OUTPUT_VARIABLE: str(output)}
    processes = [
        subprocess.Popen(
            [*command, "-i", str(i), "-a", addresses],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for i in range(2)
    ]
    for process in processes:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0, out.decode()

    records = [orjson.loads(line) for path in tmp_path.iterdir() for line in path.open("rb")]
    assert len(records) == PARTITIONS * BUCKETS
    readers = {r["partition"]: r["reader"] for r in records}
    assert len(set(readers.values())) == 2  # both processes read partitions
    assert all(r["keeper"] == r["reader"] for r in records)
