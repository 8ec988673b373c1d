"""CPU per event of each step's own work, outside Bytewax and Kafka: what is left to cut.

    python -m bench.stage_costs --events 100000 [--repeats 3]

Runs what the dataflow's steps call (routing, records, and the per-key logic of the stateful
steps, ``OrderTracker`` and ``WindowedAggregate``), batch by batch as the Kafka source
delivers them, over the same generated envelopes as ``bench.offline``, and prints
microseconds of CPU per event for each step (the best of ``--repeats`` runs, since the
machine is noisy). Bytewax's own work and IO are not in it; ``bench.offline`` measures the
whole flow.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import NamedTuple, TypeVar

from bench.offline import BATCH, NOW, add_input_arguments, input_from_arguments
from dataflows import records, routing
from dataflows.cdc import DeadLetter, RawChange
from dataflows.clock import Clock, frozen_clock
from dataflows.dedupe import TrackedChange
from dataflows.orders import REVENUE_FOLD, TRANSITIONS_FOLD, tune_gc, window_spec
from dataflows.revenue import RevenueTotals
from dataflows.routing import Group, Partial
from dataflows.settings import FlowConfig
from dataflows.stateful import OrderTracker, WindowedAggregate
from dataflows.transitions import TransitionStats
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
    spec = window_spec(config)
    clock = frozen_clock(NOW)
    spent = dict.fromkeys(STEPS, 0.0)
    outputs = dict.fromkeys(STEPS, 0)
    trackers: dict[str, OrderTracker] = {}
    revenue: dict[str, WindowedAggregate[RevenueTotals]] = {}
    transitions: dict[str, WindowedAggregate[TransitionStats]] = {}
    processed_at = records.iso(NOW)
    cpu = time.process_time
    for first in range(0, len(raws), BATCH):
        started = cpu()
        parsed = routing.parse_batch(raws[first : first + BATCH])
        spent["parse_cdc"] += (done := cpu()) - started
        outputs["parse_cdc"] += sum(len(changes) for _, changes in parsed.changes)

        tracked: list[Group[TrackedChange]] = []
        for key, changes in parsed.changes:
            tracker = trackers.get(key)
            if tracker is None:
                tracker = trackers[key] = OrderTracker(None, config.order_state_idle, clock)
            tracked.extend((key, passed) for passed in tracker.on_item(changes)[0])
        spent["dedupe_by_order"] += (started := cpu()) - done

        processed = [records.processed_order(t, processed_at) for _, g in tracked for t in g]
        spent["format_processed"] += (done := cpu()) - started
        outputs["dedupe_by_order"] += sum(len(group) for _, group in tracked)
        outputs["format_processed"] += len(processed)

        revenue_groups = routing.revenue_groups(tracked, spec)
        spent["revenue_by_currency"] += (started := cpu()) - done
        transition_groups = routing.transition_groups(tracked, spec)
        spent["transitions_by_pair"] += (done := cpu()) - started

        outputs["revenue_by_currency"] += _inputs(revenue_groups)
        outputs["transitions_by_pair"] += _inputs(transition_groups)

        outputs["window_revenue"] += _apply(
            revenue, revenue_groups, lambda: _aggregate("revenue", spec, REVENUE_FOLD, clock)
        )
        spent["window_revenue"] += (started := cpu()) - done
        outputs["window_transitions"] += _apply(
            transitions,
            transition_groups,
            lambda: _aggregate("transitions", spec, TRANSITIONS_FOLD, clock),
        )
        spent["window_transitions"] += cpu() - started
    return StageRun(spent, outputs)


def _inputs(groups: list[Group[Partial[A]]]) -> int:
    """How many changes the partials of ``groups`` fold."""
    return sum(len(part.raws) for _, parts in groups for part in parts)


def _aggregate(name: str, spec: WindowSpec, fold: Fold[A, A], clock: Clock) -> WindowedAggregate[A]:
    return WindowedAggregate(name, EventTimeWindows(spec, fold), clock)


def _apply(
    aggregates: dict[str, WindowedAggregate[A]],
    groups: list[Group[Partial[A]]],
    new_aggregate: Callable[[], WindowedAggregate[A]],
) -> int:
    """Each key's group through its window step's logic; returns how many changes went into
    a window (the rest came out as ``window_expired`` dead letters)."""
    applied = 0
    for key, parts in groups:
        aggregate = aggregates.get(key)
        if aggregate is None:
            aggregate = aggregates[key] = new_aggregate()
        out, _ = aggregate.on_item(parts)
        applied += _inputs([(key, parts)]) - sum(isinstance(item, DeadLetter) for item in out)
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
    if args.repeats < 1:
        parser.error(f"--repeats={args.repeats} must be >= 1")
    raws = input_from_arguments(parser, args)
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
