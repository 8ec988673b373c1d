"""bench.latency_stats: nearest-rank percentiles and Prometheus-style histogram quantiles."""

from __future__ import annotations

import math

import pytest

from bench.latency_stats import Summary, bucket_delta, histogram_quantile, nearest_rank

INF = math.inf


def test_nearest_rank_percentiles() -> None:
    samples = [float(i) for i in range(1, 101)]
    assert nearest_rank(samples, 50) == 50
    assert nearest_rank(samples, 99) == 99
    assert nearest_rank([7.0], 99) == 7
    summary = Summary.of(list(reversed(samples)))
    assert summary == Summary(count=100, p50=50, p90=90, p99=99, max=100)
    assert Summary.of([]) is None


def test_histogram_quantile_interpolates_inside_the_bucket() -> None:
    # 10 observations <= 0.01, 30 more <= 0.02, none above
    buckets = {0.01: 10.0, 0.02: 40.0, 0.05: 40.0, INF: 40.0}
    # rank 20 lies a third of the way into (0.01, 0.02]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.01 + 0.01 * 10 / 30)
    assert histogram_quantile(0.1, buckets) == pytest.approx(0.004)
    assert histogram_quantile(0.5, {0.01: 0.0, INF: 0.0}) is None
    assert histogram_quantile(0.99, {0.01: 1.0, INF: 10.0}) == 0.01  # as Prometheus
    with pytest.raises(ValueError, match="Inf"):
        histogram_quantile(0.5, {0.01: 1.0})


def test_bucket_delta_counts_only_what_came_between_scrapes() -> None:
    before = {0.01: 5.0, INF: 6.0}
    after = {0.01: 7.0, INF: 10.0}
    assert bucket_delta(after, before) == {0.01: 2.0, INF: 4.0}
    assert bucket_delta(after, {}) == after
