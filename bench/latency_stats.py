"""Percentiles of latency samples and of Prometheus histograms (pure, no IO)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """Latency percentiles in milliseconds (nearest rank) over ``count`` samples."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, samples_ms: Sequence[float]) -> Summary | None:
        if not samples_ms:
            return None
        ordered = sorted(samples_ms)
        return cls(
            count=len(ordered),
            p50=nearest_rank(ordered, 50),
            p90=nearest_rank(ordered, 90),
            p99=nearest_rank(ordered, 99),
            max=ordered[-1],
        )


def nearest_rank(ordered: Sequence[float], percent: float) -> float:
    """The ``percent``-th percentile of sorted ``ordered`` by the nearest-rank method."""
    if not ordered:
        raise ValueError("no samples")
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """Prometheus' ``histogram_quantile``: ``buckets`` maps upper bounds (``le``, +Inf
    included) to cumulative counts; linear interpolation inside the bucket, as Prometheus
    does. None when the histogram is empty."""
    bounds = sorted(buckets)
    if not bounds or not math.isinf(bounds[-1]):
        raise ValueError("a histogram needs its +Inf bucket")
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # as Prometheus: the highest finite bound
            if count == lower_count:
                return bound
            share = (rank - lower_count) / (count - lower_count)
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return lower_bound


def bucket_delta(
    after: Mapping[float, float], before: Mapping[float, float]
) -> dict[float, float]:
    """Cumulative bucket counts observed between two scrapes."""
    return {le: count - before.get(le, 0.0) for le, count in after.items()}
