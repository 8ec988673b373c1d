"""Keys and item shapes between the dataflow's steps.

Pure: no bytewax, no confluent_kafka. Per-order state is keyed by bucket of order ids
(order_buckets.py); revenue windows by currency; transition windows by ``FROM|TO`` (inside
each, state is per window).

The steps pass **groups**, not single changes: Bytewax charges for each item a step handles
and, in a keyed step, for each key it wakes (docs/dataflow.md, Steps). So one call
parses a whole input batch and groups its changes by bucket (:func:`parse_batch`); a bucket
tracks its group in one activation, in order, so every per-order rule sees the same sequence
as one item at a time. The window inputs of a batch are folded before they reach their key
(:func:`revenue_groups`, :func:`transition_groups`): one :class:`Partial` per window and input
channel, so a window key applies a batch in a few steps instead of one per change, and with
several processes few small items cross between them (docs/dataflow.md, Windows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Generic, TypeVar

from dataflows import revenue, transitions
from dataflows.cdc import DeadLetter, OrderChange, RawChange, parse_change
from dataflows.dedupe import TrackedChange
from dataflows.order_buckets import bucket_key
from dataflows.placement import Placement
from dataflows.revenue import RevenueTotals
from dataflows.transitions import TransitionSample, TransitionStats
from dataflows.utc import EPOCH, from_micros, micros
from dataflows.value import Value
from dataflows.windows import WindowSpec

V = TypeVar("V")
A = TypeVar("A")

#: ``(state key, items in arrival order)``: what a keyed step gets in one item.
Group = tuple[str, list[V]]


class Partial(Value, Generic[A], frozen=True):
    """The window inputs of one batch for one key, one window and one input channel
    (:func:`channel`), folded into ``value``; what a window key applies in one step. A key
    gets a batch's partials window by window."""

    #: The highest event time among them: it places the window and moves the channel's
    #: watermark as far as the changes one at a time would have.
    event_time: datetime
    value: A
    #: The records they came from, in arrival order: dead letters if the window expired.
    raws: list[RawChange]
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


def input_channels(partitions: Iterable[int], placement: Placement) -> frozenset[int]:
    """Every channel the dataflow's window keys can hear from, when it is known up front: in
    one process, or in several of one worker that each track their own partitions
    (placement.py); empty when Bytewax spreads partitions over the workers of several
    processes (any process may then forward any partition)."""
    if placement.processes > 1 and not placement.assigns_partitions:
        return frozenset()
    return frozenset(channel(p, p % placement.processes) for p in partitions)


class ParsedBatch(Value, frozen=True):
    """One input batch, parsed: valid changes grouped by bucket, dead letters, and counts."""

    changes: list[Group[OrderChange]]
    dead_letters: list[DeadLetter]
    read: int
    tombstones: int


def parse_batch(raws: Sequence[RawChange]) -> ParsedBatch:
    """Parse every record of a batch (:func:`dataflows.cdc.parse_change`, never raises) and
    group the changes by bucket key (:func:`~dataflows.order_buckets.bucket_key`)."""
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
    tracked_groups: Iterable[Group[TrackedChange]], spec: WindowSpec, route: int = 0
) -> list[Group[Partial[RevenueTotals]]]:
    """The revenue of every tracked change that touches money, by currency, folded per window
    of ``spec`` and input channel; ``route``: the process that tracked them (:func:`channel`)."""
    return _partials(tracked_groups, _revenue_keyed, revenue.total, spec, route)


def transition_groups(
    tracked_groups: Iterable[Group[TrackedChange]], spec: WindowSpec, route: int = 0
) -> list[Group[Partial[TransitionStats]]]:
    """The samples of every status change, by ``FROM|TO`` pair, folded as for
    :func:`revenue_groups`."""
    return _partials(tracked_groups, _transition_keyed, transitions.stats, spec, route)


def _revenue_keyed(tracked: TrackedChange) -> tuple[str, RevenueTotals] | None:
    contribution = revenue.contribution(tracked)
    return None if contribution is None else (tracked.change.image.currency, contribution)


def _transition_keyed(tracked: TrackedChange) -> tuple[str, TransitionSample] | None:
    sample = transitions.sample(tracked)
    return None if sample is None else (sample.pair, sample)


class _Pending(Generic[V]):
    """A :class:`Partial` being collected."""

    __slots__ = ("latest_us", "raws", "values")

    def __init__(self, latest_us: int) -> None:
        self.values: list[V] = []
        self.raws: list[RawChange] = []
        self.latest_us = latest_us


def _partials(
    tracked_groups: Iterable[Group[TrackedChange]],
    keyed_value: Callable[[TrackedChange], tuple[str, V] | None],
    fold: Callable[[Sequence[V]], A],
    spec: WindowSpec,
    route: int,
) -> list[Group[Partial[A]]]:
    pending: dict[tuple[str, datetime, int], _Pending[V]] = {}
    # The window of the last change, also in microseconds: consecutive ones mostly share it.
    start, start_us, end_us = EPOCH, 0, 0
    for _, group in tracked_groups:
        for tracked in group:
            keyed = keyed_value(tracked)
            if keyed is None:
                continue
            change = tracked.change
            raw = change.raw
            event_us = change.image.updated_us  # the row's updated_at
            if not start_us <= event_us < end_us:
                start = spec.start_of(from_micros(event_us))
                start_us = micros(start)
                end_us = micros(start + spec.length)
            slot = (keyed[0], start, channel(raw.partition, route))
            collecting = pending.get(slot)
            if collecting is None:
                collecting = pending[slot] = _Pending(event_us)
            elif event_us > collecting.latest_us:
                collecting.latest_us = event_us
            collecting.values.append(keyed[1])
            collecting.raws.append(raw)
    by_key: dict[str, list[Partial[A]]] = {}
    # Window by window (stably: otherwise in order of first arrival). The changes come bucket
    # by bucket, so a later window of a channel can first appear before an earlier one (one
    # bucket's orders changed only after a minute boundary, another's before it); applied
    # first, it would move the channel's watermark past the earlier window and make that
    # window's inputs late.
    for (key, _, route_channel), collected in sorted(pending.items(), key=_window_start):
        latest = from_micros(collected.latest_us)
        part = Partial(latest, fold(collected.values), collected.raws, route_channel)
        by_key.setdefault(key, []).append(part)
    return list(by_key.items())


def _window_start(slot: tuple[tuple[str, datetime, int], object]) -> datetime:
    return slot[0][1]
