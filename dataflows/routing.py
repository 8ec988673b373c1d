"""Keys and item shapes between the dataflow's steps.

Pure: no bytewax, no confluent_kafka. Per-order state is keyed by bucket of order ids
(order_buckets.py); revenue windows by currency; transition windows by ``FROM|TO`` (inside
each, state is per window).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from dataflows import revenue, transitions
from dataflows.cdc import DeadLetter, OrderChange, Parsed, RawChange
from dataflows.dedupe import TrackedChange
from dataflows.revenue import RevenueTotals
from dataflows.transitions import TransitionSample

V = TypeVar("V")


@dataclass(frozen=True)
class Timed(Generic[V]):
    """A value for a window, with its event time and the record it came from."""

    event_time: datetime
    value: V
    raw: RawChange


def change_or_none(parsed: Parsed) -> OrderChange | None:
    return parsed if isinstance(parsed, OrderChange) else None


def dead_letter_or_none(parsed: Parsed | object) -> DeadLetter | None:
    return parsed if isinstance(parsed, DeadLetter) else None


def revenue_input(
    keyed: tuple[str, TrackedChange],
) -> tuple[str, Timed[RevenueTotals]] | None:
    """``(currency, contribution)`` for changes that touch money."""
    tracked = keyed[1]
    contribution = revenue.contribution(tracked)
    if contribution is None:
        return None
    change = tracked.change
    return change.image.currency, Timed(change.event_time, contribution, change.raw)


def transition_input(
    keyed: tuple[str, TrackedChange],
) -> tuple[str, Timed[TransitionSample]] | None:
    """``(FROM|TO, sample)`` for status changes."""
    tracked = keyed[1]
    sample = transitions.sample(tracked)
    if sample is None:
        return None
    change = tracked.change
    return sample.pair, Timed(change.event_time, sample, change.raw)
