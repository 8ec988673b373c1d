"""bench.offline: the generated input spread over partitions as the CDC topic is."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict

from bench.offline import raw_changes


def test_partitions_spread_orders_by_key_with_offsets_per_partition() -> None:
    one = raw_changes(3000, 0.05, 1)
    six = raw_changes(3000, 0.05, 1, partitions=6)
    assert [raw.value for raw in six] == [raw.value for raw in one]  # same input, same order
    assert {raw.partition for raw in one} == {0}
    assert {raw.partition for raw in six} == set(range(6))
    partition_of_key: dict[bytes | None, int] = {}
    offsets: dict[int, list[int]] = defaultdict(list)
    for raw in six:
        # An order's changes (and re-deliveries) stay in one partition, as with Kafka keys.
        assert partition_of_key.setdefault(raw.key, raw.partition) == raw.partition
        offsets[raw.partition].append(raw.offset)
    for partition, seen in offsets.items():
        assert seen == list(range(len(seen))), partition


def test_a_bad_partition_count_exits_non_zero_naming_it() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.offline", "--events=10", "--partitions=0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "--partitions" in result.stderr
