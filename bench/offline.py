"""The orders flow over generated envelopes on Bytewax's testing source: no Kafka needed.

For profiling and for measuring per-item speedups offline; the throughput target itself is
measured by ``bench.dataflow_throughput`` against a pass-through on the live stack.

    python -m bench.offline --events 200000 [--workers 2] [--profile out.prof] [--state]

Prints events/s, CPU seconds per million events and a digest of every output (the four
topics' keys and values with the run-dependent ``processed_at`` left out), so that two code
versions can be checked to produce the same outputs.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import resource
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import TestingSink, TestingSource, cluster_main, run_main
from prometheus_client import REGISTRY

from bench.envelopes import EnvelopeBuilder, planned_changes, redelivery_plan, with_redeliveries
from dataflows.cdc import RawChange
from dataflows.clock import frozen_clock
from dataflows.orders import Sinks, build_flow, tune_gc
from dataflows.records import OutRecord
from dataflows.settings import FlowConfig

TOPIC = "mysql-orders"
#: As many records per source batch as the Kafka source reads at once.
BATCH = 500
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def raw_changes(events: int, duplicates: float, seed: int) -> list[RawChange]:
    builder = EnvelopeBuilder()
    built = (builder.build(change) for change in planned_changes(events, seed))
    plan = redelivery_plan(events, duplicates, seed)
    return [
        RawChange(TOPIC, 0, offset, record.key, record.value)
        for offset, record in enumerate(with_redeliveries(built, plan))
    ]


def digest(outputs: dict[str, list[OutRecord]]) -> str:
    sha = hashlib.sha256()
    for name, records in sorted(outputs.items()):
        sha.update(name.encode())
        for line in sorted(_comparable(records)):
            sha.update(line)
    return sha.hexdigest()[:16]


def _comparable(records: list[OutRecord]) -> Iterator[bytes]:
    for record in records:
        value = orjson.loads(record.value)
        value.pop("processed_at", None)
        yield record.key.encode() + b"\0" + orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


class _CountingSink(DynamicSink[OutRecord]):
    """Keeps nothing (so that ``--state`` measures the flow's state, not the outputs)."""

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Counting:
        return _Counting()


class _Counting(StatelessSinkPartition[OutRecord]):
    def write_batch(self, items: list[OutRecord]) -> None:
        pass


def run(records: list[RawChange], workers: int, keep: bool = True) -> dict[str, list[OutRecord]]:
    """``keep=False``: outputs are dropped as they come (the result is empty)."""
    outputs: dict[str, list[OutRecord]] = {
        name: [] for name in ("processed", "revenue", "transitions", "dead_letters")
    }
    sinks = Sinks(
        *(TestingSink(outputs[name]) if keep else _CountingSink() for name in outputs)
    )
    flow = build_flow(TestingSource(records, BATCH), sinks, FlowConfig(), frozen_clock(NOW))
    if workers == 1:
        run_main(flow, epoch_interval=timedelta(seconds=10))  # type: ignore[no-untyped-call]
    else:
        cluster_main(  # type: ignore[no-untyped-call]
            flow, [], 0, epoch_interval=timedelta(seconds=10), worker_count_per_proc=workers
        )
    return outputs


def add_input_arguments(parser: argparse.ArgumentParser, events: int) -> None:
    """The generated input's flags (see :func:`raw_changes`); ``events``: the default count."""
    parser.add_argument("--events", type=int, default=events)
    parser.add_argument("--duplicates", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_input_arguments(parser, events=200_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--default-gc", action="store_true", help="skip flow()'s GC tuning")
    parser.add_argument("--profile", help="write a cProfile of the run to this file")
    parser.add_argument(
        "--state",
        action="store_true",
        help="trace Python allocations (tracemalloc; about 2x slower), drop the outputs as "
        "they come (no digest) and print the peak bytes allocated during the run per "
        "tracked order",
    )
    args = parser.parse_args()
    if args.events < 1:
        parser.error(f"--events={args.events} must be >= 1")

    records = raw_changes(args.events, args.duplicates, args.seed)
    if not args.default_gc:
        tune_gc()  # as the production flow() does
    profiler = cProfile.Profile() if args.profile else None
    tracked_before = REGISTRY.get_sample_value("orders_tracked_orders") or 0.0
    if args.state:
        tracemalloc.start()
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    outputs = run(records, args.workers, keep=not args.state)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    elapsed = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_before
    state = ""
    if args.state:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        tracked = (REGISTRY.get_sample_value("orders_tracked_orders") or 0.0) - tracked_before
        state = f" tracked_orders={tracked:,.0f} peak_bytes_per_tracked_order={peak / tracked:.0f}"
    counts = " ".join(f"{name}={len(out)}" for name, out in outputs.items())
    print(
        f"records={len(records)} workers={args.workers} seconds={elapsed:.2f} "
        f"events_per_s={len(records) / elapsed:,.0f} "
        f"cpu_s_per_million={cpu / len(records) * 1e6:.1f} {counts} "
        f"digest={'-' if args.state else digest(outputs)}"
        f"{state}"
    )


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
