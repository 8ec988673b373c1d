"""What one recovery epoch costs the orders dataflow, offline (no stack, no Kafka).

```
python -m bench.epoch_stall --tracked 20000,200000 --changed 1000,10000 \
    [--access recent] [--partitions 6]
```

For each number of tracked orders N and changes per epoch K, the real flow
(``dataflows.orders.build_flow``) runs in one worker on an in-memory source: first N inserts
(N orders tracked, spread by key over the CDC topic's partitions: per-order state is kept
per partition), then ``--epochs`` epochs of K updates each (one source batch per epoch,
``epoch_interval=0``). The same input runs twice, without and with SQLite recovery. The
difference in the median time of an update epoch (from one source batch to the next) is
what recovery adds to an epoch: snapshotting and pickling every state key changed in it,
writing the rows and the commit's garbage collection. Wall time and this process's CPU time
are both given: on a shared machine CPU time is the steadier figure; wall time includes
SQLite's waits. The garbage-collection query Bytewax runs at each commit is then timed
alone on the resulting recovery partition (it scans every snapshot row).

``--access recent`` changes the newest orders (as a shop does: an order changes in the
minutes after it is placed); ``uniform`` picks orders at random among all N (the worst case
for buckets of consecutive ids: every bucket is touched).
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from bytewax.inputs import DynamicSource, StatelessSourcePartition
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import TestingSink, run_main

from bench.offline import CDC_PARTITIONS, partition_of
from dataflows.cdc import RawChange
from dataflows.orders import Sinks, build_flow
from orderstream.contract import TOPIC_CDC

INSERT_BATCH = 5000
STATUSES = ("PENDING", "PAID", "SHIPPED", "DELIVERED")
BASE_US = 1_795_000_000_000_000

#: Bytewax 0.21's garbage collection at each commit (its recovery store, verbatim in effect).
GC_QUERY = """
WITH max_epoch_snapshots AS (
  SELECT step_id, state_key, MAX(snap_epoch) AS snap_epoch FROM snaps
  WHERE snap_epoch <= ?1 GROUP BY step_id, state_key
),
garbage_snapshots AS (
  SELECT step_id, state_key, snaps.snap_epoch FROM snaps
  JOIN max_epoch_snapshots USING (step_id, state_key)
  WHERE snaps.snap_epoch < max_epoch_snapshots.snap_epoch
)
DELETE FROM snaps WHERE (step_id, state_key, snap_epoch) IN garbage_snapshots
"""


def _row(order_id: int, version: int) -> dict[str, Any]:
    at = BASE_US + order_id * 1000 + version * 1_000_000
    return {
        "id": order_id,
        "customer_id": 7,
        "status": STATUSES[min(version - 1, len(STATUSES) - 1)],
        "total_amount": "10.00",
        "currency": "USD",
        "version": version,
        "created_at": BASE_US + order_id * 1000,
        "updated_at": at,
    }


def _raw(
    offset: int, before: dict[str, Any] | None, after: dict[str, Any], partitions: int
) -> RawChange:
    value = {
        "before": before,
        "after": after,
        "source": {"ts_ms": after["updated_at"] // 1000, "file": "b.000001", "pos": offset},
        "op": "c" if before is None else "u",
        "ts_ms": after["updated_at"] // 1000,
        "ts_us": after["updated_at"],
    }
    key = orjson.dumps({"id": after["id"]})
    partition = partition_of(key, partitions)
    return RawChange(TOPIC_CDC, partition, offset, key, orjson.dumps(value))


def batches(
    tracked: int, changed: int, epochs: int, access: str, partitions: int = CDC_PARTITIONS
) -> list[list[RawChange]]:
    """N inserts in batches, then ``epochs`` batches of ``changed`` updates, read from
    ``partitions`` CDC partitions (so that per-order state is split per partition as live;
    offsets count per batch, not per partition, which no step looks at)."""
    rng = random.Random(1)
    versions = dict.fromkeys(range(1, tracked + 1), 1)
    out: list[list[RawChange]] = []
    offsets = iter(range(10**9))
    ids = list(versions)
    for start in range(0, tracked, INSERT_BATCH):
        chunk = ids[start : start + INSERT_BATCH]
        out.append([_raw(next(offsets), None, _row(i, 1), partitions) for i in chunk])
    recent = ids[-max(changed, min(tracked, 3 * changed)) :]
    for _ in range(epochs):
        pool = recent if access == "recent" else ids
        batch = []
        for order_id in rng.sample(pool, min(changed, len(pool))):
            version = versions[order_id]
            versions[order_id] = version + 1
            before, after = _row(order_id, version), _row(order_id, version + 1)
            batch.append(_raw(next(offsets), before, after, partitions))
        out.append(batch)
    return out


class _Partition(StatelessSourcePartition[RawChange]):
    def __init__(
        self, plan: list[list[RawChange]], first_timed: int, clock: list[tuple[float, float]]
    ) -> None:
        self._batches: Iterator[list[RawChange]] = iter(plan)
        self._index = 0
        self._first_timed = first_timed
        self._clock = clock

    def next_batch(self) -> list[RawChange]:
        if self._index >= self._first_timed:
            self._clock.append((time.perf_counter(), time.process_time()))
        batch = next(self._batches)  # StopIteration ends the run
        self._index += 1
        return batch


class _Source(DynamicSource[RawChange]):
    def __init__(self, plan: list[list[RawChange]], first_timed: int) -> None:
        self.plan, self.first_timed = plan, first_timed
        self.clock: list[tuple[float, float]] = []

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Partition:
        return _Partition(self.plan, self.first_timed, self.clock)


@dataclass(frozen=True)
class Run:
    seconds_per_epoch: float  # median wall time
    cpu_seconds_per_epoch: float  # median CPU time of this process
    snapshot_rows: int
    gc_seconds: float


def run(plan: list[list[RawChange]], epochs: int, recovery_dir: Path | None) -> Run:
    source = _Source(plan, len(plan) - epochs)
    sinks = Sinks(TestingSink([]), TestingSink([]), TestingSink([]), TestingSink([]))
    recovery = None if recovery_dir is None else RecoveryConfig(str(recovery_dir))  # type: ignore[no-untyped-call]
    run_main(build_flow(source, sinks), epoch_interval=timedelta(0), recovery_config=recovery)  # type: ignore[no-untyped-call]
    # One batch per epoch: the time from one batch to the next is that epoch, end included.
    pairs = list(zip(source.clock, source.clock[1:], strict=False))
    wall = statistics.median(b[0] - a[0] for a, b in pairs)
    cpu = statistics.median(b[1] - a[1] for a, b in pairs)
    rows, gc_s = (0, 0.0) if recovery_dir is None else _time_gc(recovery_dir)
    return Run(wall, cpu, rows, gc_s)


def _time_gc(recovery_dir: Path) -> tuple[int, float]:
    (part,) = sorted(recovery_dir.glob("*.sqlite3"))
    with sqlite3.connect(part) as db:
        rows = int(db.execute("SELECT COUNT(*) FROM snaps").fetchone()[0])
        epoch = int(db.execute("SELECT MAX(snap_epoch) FROM snaps").fetchone()[0])
        start = time.perf_counter()
        db.execute(GC_QUERY, (epoch,))
        gc_s = time.perf_counter() - start
        db.rollback()
    return rows, gc_s


def _ms(result: Run) -> str:
    return f"{result.seconds_per_epoch * 1e3:.0f} ({result.cpu_seconds_per_epoch * 1e3:.0f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.epoch_stall", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--tracked", default="20000,200000", help="orders kept, comma-separated")
    parser.add_argument("--changed", default="1000,10000", help="changes per epoch, a,b,...")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--access", choices=("recent", "uniform"), default="recent")
    parser.add_argument(
        "--partitions",
        type=int,
        default=CDC_PARTITIONS,
        help="CDC partitions the changes are read from (per-order state is kept per partition)",
    )
    args = parser.parse_args(argv)
    if args.partitions < 1:
        parser.error(f"--partitions={args.partitions} must be >= 1")
    try:
        tracked = [int(v) for v in args.tracked.split(",")]
        changed = [int(v) for v in args.changed.split(",")]
    except ValueError:
        parser.error("--tracked and --changed take comma-separated integers")
    print(
        "| tracked orders | changes/epoch | epoch without recovery ms (CPU) "
        "| with recovery ms (CPU) | recovery adds ms (CPU) | GC query ms | snapshot rows |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in tracked:
        for k in changed:
            plan = batches(n, k, args.epochs, args.access, args.partitions)
            plain = run(plan, args.epochs, None)
            with tempfile.TemporaryDirectory(prefix="epoch-stall-") as tmp:
                init_db_dir(Path(tmp), 1)  # type: ignore[no-untyped-call]
                rec = run(plan, args.epochs, Path(tmp))
            extra = rec.seconds_per_epoch - plain.seconds_per_epoch
            extra_cpu = rec.cpu_seconds_per_epoch - plain.cpu_seconds_per_epoch
            print(
                f"| {n:,} | {k:,} | {_ms(plain)} | {_ms(rec)} "
                f"| {extra * 1e3:.0f} ({extra_cpu * 1e3:.0f}) "
                f"| {rec.gc_seconds * 1e3:.0f} | {rec.snapshot_rows:,} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
