"""dataflows.placement: which worker Bytewax routes a key to, and keys chosen for a worker.
(tests/dataflow/test_placement.py checks the routing against Bytewax itself.)"""

from __future__ import annotations

import pytest

from dataflows.placement import PLACED_MODULUS, Placement, bucket_key, worker_of
from dataflows.routing import channel, input_channels
from dataflows.settings import bytewax_placement


@pytest.mark.parametrize("workers", [1, 2, 3, 4, 6, 8, 12, 24])
def test_a_bucket_key_lands_where_its_partition_is_read_for_any_divisor_of_the_modulus(
    workers: int,
) -> None:
    assert PLACED_MODULUS % workers == 0
    for partition in range(30):
        for bucket in range(20):
            key = bucket_key(partition, bucket)
            assert worker_of(key, workers) == partition % workers
            assert key.startswith(f"{partition}/{bucket}~")


def test_bucket_keys_do_not_depend_on_the_run_and_differ_per_partition_and_bucket() -> None:
    keys = {bucket_key(p, b) for p in range(6) for b in range(100)}
    assert len(keys) == 600


def test_keys_spread_over_workers_like_a_hash() -> None:
    counts = [0, 0, 0]
    for bucket in range(3000):
        counts[worker_of(str(bucket), 3)] += 1
    assert all(900 < count < 1100 for count in counts)


def test_with_one_worker_per_process_each_process_reads_its_share_of_partitions() -> None:
    second = Placement(processes=2, process_id=1)
    assert [p for p in range(6) if second.reads(p)] == [1, 3, 5]
    threads = Placement(processes=2, workers_per_process=2, process_id=1)
    assert not threads.assigns_partitions and all(threads.reads(p) for p in range(6))
    assert all(Placement().reads(p) for p in range(6))


def test_the_placement_is_read_as_bytewax_run_reads_its_arguments() -> None:
    argv = ["dataflows.orders", "-w", "1", "-i", "1", "-a", "h:1;h:2;h:3"]
    assert bytewax_placement(argv, {}) == Placement(processes=3, process_id=1)
    env = {"BYTEWAX_WORKERS_PER_PROCESS": "2", "BYTEWAX_ADDRESSES": "h:1;h:2"}
    assert bytewax_placement(["dataflows.orders"], env) == Placement(2, 2, 0)
    assert bytewax_placement(["dataflows.orders"], {}) == Placement()


def test_the_window_channels_are_known_up_front_unless_partitions_are_shared() -> None:
    partitions = range(6)
    assert input_channels(partitions, Placement()) == frozenset(partitions)
    two = input_channels(partitions, Placement(processes=2, process_id=1))
    assert two == {channel(p, p % 2) for p in partitions}
    assert input_channels(partitions, Placement(processes=2, workers_per_process=2)) == set()
