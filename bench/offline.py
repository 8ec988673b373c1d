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
import zlib
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
from dataflows.settings import BATCH_SIZE, FlowConfig
from orderstream.contract import CONTRACT_TOPICS, TOPIC_CDC

TOPIC = TOPIC_CDC
#: As many records per source batch as the Kafka source reads at once in one process.
BATCH = BATCH_SIZE[1]
#: The CDC topic's partitions (the contract's).
CDC_PARTITIONS = next(spec.partitions for spec in CONTRACT_TOPICS if spec.name == TOPIC_CDC)
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def raw_changes(
    events: int, duplicates: float, seed: int, partitions: int = 1
) -> list[RawChange]:
    """The bench's input as read from ``partitions`` partitions, interleaved in one stream
    (Bytewax's testing source has one); a record's partition comes from its key
    (:func:`partition_of`)."""
    builder = EnvelopeBuilder()
    built = (builder.build(change) for change in planned_changes(events, seed))
    plan = redelivery_plan(events, duplicates, seed)
    offsets = [0] * partitions
    changes: list[RawChange] = []
    for record in with_redeliveries(built, plan):
        partition = partition_of(record.key, partitions)
        changes.append(RawChange(TOPIC, partition, offsets[partition], record.key, record.value))
        offsets[partition] += 1
    return changes


def partition_of(key: bytes, partitions: int) -> int:
    """The partition of a record key among ``partitions``: by CRC-32 rather than Kafka's
    murmur2, since only the spread of orders over partitions matters offline."""
    return zlib.crc32(key) % partitions


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


class _DroppingSink(DynamicSink[OutRecord]):
    """Keeps nothing (so that ``--state`` measures the flow's state, not the outputs)."""

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Dropping:
        return _Dropping()


class _Dropping(StatelessSinkPartition[OutRecord]):
    def write_batch(self, items: list[OutRecord]) -> None:
        pass


def run(records: list[RawChange], workers: int, keep: bool = True) -> dict[str, list[OutRecord]]:
    """``keep=False``: outputs are dropped as they come (the result is empty)."""
    outputs: dict[str, list[OutRecord]] = {
        name: [] for name in ("processed", "revenue", "transitions", "dead_letters")
    }
    sinks = Sinks(
        *(TestingSink(outputs[name]) if keep else _DroppingSink() for name in outputs)
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
    """The generated input's flags (see :func:`input_from_arguments`); ``events``: the
    default count."""
    parser.add_argument("--events", type=int, default=events)
    parser.add_argument("--duplicates", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--partitions",
        type=int,
        default=1,
        help=f"spread the input over this many CDC partitions by key (the topic has "
        f"{CDC_PARTITIONS}; per-order state is kept per partition)",
    )


def input_from_arguments(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> list[RawChange]:
    """:func:`raw_changes` for the flags of :func:`add_input_arguments`; a bad one exits
    through ``parser.error`` naming it."""
    for flag in ("events", "partitions"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag}={getattr(args, flag)} must be >= 1")
    return raw_changes(args.events, args.duplicates, args.seed, args.partitions)


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
        "tracked order (the batches in flight included)",
    )
    args = parser.parse_args()
    records = input_from_arguments(parser, args)
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
