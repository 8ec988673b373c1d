"""Keys and item shapes between the dataflow's steps.

Pure: no bytewax, no confluent_kafka. Per-order state is keyed by bucket of order ids
(order_buckets.py); revenue windows by currency; transition windows by ``FROM|TO`` (inside
each, state is per window).

The steps pass **groups**, not single changes: Bytewax charges for each item a step handles
and, in a keyed step, for each key it wakes (docs/dataflow.md, Steps). So one call
parses a whole input batch and groups its changes by bucket (:func:`parse_batch`); a bucket
tracks its group in one activation; and the tracked changes of a batch reach each window key
as one group (:func:`revenue_groups`, :func:`transition_groups`). Order within a key is kept,
so every rule sees the same sequence as one item at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Generic, TypeVar

from dataflows import revenue, transitions
from dataflows.cdc import DeadLetter, OrderChange, RawChange, parse_change
from dataflows.dedupe import TrackedChange
from dataflows.order_buckets import bucket_key
from dataflows.revenue import RevenueTotals
from dataflows.transitions import TransitionSample
from dataflows.value import Value

V = TypeVar("V")

#: ``(state key, items in arrival order)``: what a keyed step gets in one item.
Group = tuple[str, list[V]]


class Timed(Value, Generic[V], frozen=True):
    """A value for a window, with its event time, the record it came from and the input
    channel it reaches the window key by (:func:`channel`)."""

    event_time: datetime
    value: V
    raw: RawChange
    channel: int


def channel(partition: int, route: int) -> int:
    """The input channel of a source partition's changes tracked on ``route`` (the Bytewax
    process that ran their per-order step).

    A window key's watermark is the minimum over its input channels (windows.py), and each
    channel must deliver in event-time order. A source partition alone is not one: its
    changes are tracked in buckets spread over the processes, and each process forwards
    them when it gets to them, so changes tracked by a busy process reach the key after
    later ones from the same partition tracked elsewhere (a backlog drained by 2 processes
    once turned 97 % of its windows into corrections that way). From one partition through
    one process the order holds. Route 0 keeps the partition number, as older snapshots
    stored it."""
    return route << 32 | partition


class ParsedBatch(Value, frozen=True):
    """One input batch, parsed: valid changes grouped by bucket, dead letters, and counts."""

    changes: list[Group[OrderChange]]
    dead_letters: list[DeadLetter]
    read: int
    tombstones: int


def parse_batch(raws: Sequence[RawChange]) -> ParsedBatch:
    """Parse every record of a batch (:func:`dataflows.cdc.parse_change`, never raises)."""
    by_bucket: dict[str, list[OrderChange]] = {}
    dead_letters: list[DeadLetter] = []
    tombstones = 0
    for raw in raws:
        parsed = parse_change(raw)
        if isinstance(parsed, OrderChange):
            key = bucket_key(parsed)
            group = by_bucket.get(key)
            if group is None:
                by_bucket[key] = [parsed]
            else:
                group.append(parsed)
        elif isinstance(parsed, DeadLetter):
            dead_letters.append(parsed)
        else:
            tombstones += 1
    return ParsedBatch(list(by_bucket.items()), dead_letters, len(raws), tombstones)


def revenue_groups(
    tracked_groups: Iterable[Group[TrackedChange]], route: int = 0
) -> list[Group[Timed[RevenueTotals]]]:
    """``(currency, contribution)`` of every tracked change that touches money, grouped by
    currency; ``route``: the process that tracked them (:func:`channel`)."""
    return _grouped(tracked_groups, _revenue_keyed, route)


def transition_groups(
    tracked_groups: Iterable[Group[TrackedChange]], route: int = 0
) -> list[Group[Timed[TransitionSample]]]:
    """``(FROM|TO, sample)`` of every status change, grouped by pair; ``route`` as for
    :func:`revenue_groups`."""
    return _grouped(tracked_groups, _transition_keyed, route)


def _revenue_keyed(tracked: TrackedChange) -> tuple[str, RevenueTotals] | None:
    contribution = revenue.contribution(tracked)
    return None if contribution is None else (tracked.change.image.currency, contribution)


def _transition_keyed(tracked: TrackedChange) -> tuple[str, TransitionSample] | None:
    sample = transitions.sample(tracked)
    return None if sample is None else (sample.pair, sample)


def _grouped(
    tracked_groups: Iterable[Group[TrackedChange]],
    keyed_value: Callable[[TrackedChange], tuple[str, V] | None],
    route: int,
) -> list[Group[Timed[V]]]:
    grouped: dict[str, list[Timed[V]]] = {}
    for _, group in tracked_groups:
        for tracked in group:
            keyed = keyed_value(tracked)
            if keyed is not None:
                change = tracked.change
                raw = change.raw
                # The event time is the row's updated_at.
                timed = Timed(change.image.updated_at, keyed[1], raw, channel(raw.partition, route))
                grouped.setdefault(keyed[0], []).append(timed)
    return list(grouped.items())
