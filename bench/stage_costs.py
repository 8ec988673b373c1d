"""CPU per event of each step's own work, outside Bytewax and Kafka: what is left to cut.

    python -m bench.stage_costs --events 100000 [--repeats 3]

Runs the pure functions the dataflow's steps call (routing, order_buckets, records,
windows), batch by batch as the Kafka source delivers them, over the same generated
envelopes as ``bench.offline``, and prints microseconds of CPU per event for each step (the
best of ``--repeats`` runs, since the machine is noisy). Bytewax's own work, metrics and IO
are not in it; ``bench.offline`` measures the whole flow.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import NamedTuple, TypeVar

from bench.offline import BATCH, NOW, add_input_arguments, raw_changes
from dataflows import records, routing
from dataflows.cdc import RawChange
from dataflows.dedupe import TrackedChange
from dataflows.order_buckets import OrderBucket
from dataflows.orders import REVENUE_FOLD, TRANSITIONS_FOLD, tune_gc
from dataflows.revenue import RevenueTotals
from dataflows.routing import Group, Timed
from dataflows.settings import FlowConfig
from dataflows.transitions import TransitionSample, TransitionStats
from dataflows.utc import micros
from dataflows.windows import EventTimeWindows, Fold, WindowSpec

V = TypeVar("V")
A = TypeVar("A")

STEPS = (
    "parse_cdc",
    "dedupe_by_order",
    "format_processed",
    "revenue_by_currency",
    "transitions_by_pair",
    "window_revenue",
    "window_transitions",
)


class StageRun(NamedTuple):
    seconds: dict[str, float]  # CPU seconds per step
    #: Items each step produced (changes, records, window inputs) or applied (windows).
    outputs: dict[str, int]


def stage_seconds(raws: list[RawChange]) -> StageRun:
    """CPU seconds spent in each step over all of ``raws``, state starting empty."""
    config = FlowConfig()
    spec = WindowSpec(
        config.window_length,
        config.allowed_lateness,
        config.window_retention,
        partition_idle=config.watermark_idle,
    )
    spent = dict.fromkeys(STEPS, 0.0)
    outputs = dict.fromkeys(STEPS, 0)
    buckets: dict[str, OrderBucket] = {}
    revenue_windows: dict[str, EventTimeWindows[RevenueTotals, RevenueTotals]] = {}
    transition_windows: dict[str, EventTimeWindows[TransitionSample, TransitionStats]] = {}
    processed_at = records.iso(NOW)
    now_us = micros(NOW)
    clock = time.process_time
    for first in range(0, len(raws), BATCH):
        started = clock()
        parsed = routing.parse_batch(raws[first : first + BATCH])
        spent["parse_cdc"] += (done := clock()) - started
        outputs["parse_cdc"] += sum(len(changes) for _, changes in parsed.changes)

        tracked: list[Group[TrackedChange]] = []
        for key, changes in parsed.changes:
            bucket = buckets.setdefault(key, OrderBucket())
            passed = [t for t, _ in (bucket.track(c, NOW, now_us) for c in changes) if t]
            if passed:
                tracked.append((key, passed))
        spent["dedupe_by_order"] += (started := clock()) - done

        processed = [records.processed_order(t, processed_at) for _, g in tracked for t in g]
        spent["format_processed"] += (done := clock()) - started
        outputs["dedupe_by_order"] += sum(len(group) for _, group in tracked)
        outputs["format_processed"] += len(processed)

        revenue_groups = routing.revenue_groups(tracked)
        spent["revenue_by_currency"] += (started := clock()) - done
        transition_groups = routing.transition_groups(tracked)
        spent["transitions_by_pair"] += (done := clock()) - started

        outputs["revenue_by_currency"] += sum(len(values) for _, values in revenue_groups)
        outputs["transitions_by_pair"] += sum(len(values) for _, values in transition_groups)

        outputs["window_revenue"] += _apply(revenue_windows, revenue_groups, spec, REVENUE_FOLD)
        spent["window_revenue"] += (started := clock()) - done
        outputs["window_transitions"] += _apply(
            transition_windows, transition_groups, spec, TRANSITIONS_FOLD
        )
        spent["window_transitions"] += clock() - started
    return StageRun(spent, outputs)


def _apply(
    windows: dict[str, EventTimeWindows[V, A]],
    groups: list[Group[Timed[V]]],
    spec: WindowSpec,
    fold: Fold[V, A],
) -> int:
    """What ``WindowedAggregate.on_item`` does with a key's group (stateful.py); returns
    how many values went into a window."""
    applied = 0
    for key, values in groups:
        key_windows = windows.get(key)
        if key_windows is None:
            key_windows = windows[key] = EventTimeWindows(spec, fold)
        for value in values:
            outcome = key_windows.on_event(
                value.event_time, value.value, NOW, value.raw.partition, settle=False
            )
            applied += not outcome.expired
        key_windows.on_tick(NOW)
    return applied


def best_of(repeats: int, measure: Callable[[], dict[str, float]]) -> dict[str, float]:
    best: dict[str, float] = {}
    for _ in range(repeats):
        for step, seconds in measure().items():
            best[step] = min(best.get(step, seconds), seconds)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_input_arguments(parser, events=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.events < 1:
        parser.error(f"--events={args.events} must be >= 1")
    if args.repeats < 1:
        parser.error(f"--repeats={args.repeats} must be >= 1")
    raws = raw_changes(args.events, args.duplicates, args.seed)
    tune_gc()  # as the production flow() does
    best = best_of(args.repeats, lambda: stage_seconds(raws).seconds)
    total = sum(best.values())
    print(f"records={len(raws)} best of {args.repeats} runs, CPU µs per event read:")
    for step in STEPS:
        share = best[step] / total
        print(f"  {step:<22} {best[step] / len(raws) * 1e6:6.2f}  {share:6.1%}")
    print(f"  {'all steps':<22} {total / len(raws) * 1e6:6.2f}")


if __name__ == "__main__":
    main()
