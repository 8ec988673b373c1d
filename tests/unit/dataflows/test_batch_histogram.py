"""dataflows.metrics.BatchHistogram exports what prometheus-client's Histogram would."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

from dataflows.metrics import LATENCY_BUCKETS, BatchHistogram

VALUES = [0.0, 0.001, 0.0010001, 0.004, 0.1, 0.75, 2.0, 300.0, 301.0, 0.02, 0.02]


def samples(registry: CollectorRegistry, name: str) -> dict[tuple[str, str], float]:
    return {
        (sample.name, sample.labels.get("le", "")): sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name.startswith(name) and not sample.name.endswith("_created")
    }


def test_a_batch_gives_the_buckets_count_and_sum_of_one_observe_per_value() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    batch = BatchHistogram("ours_seconds", "doc", LATENCY_BUCKETS, registry=ours)
    reference = Histogram("ref_seconds", "doc", buckets=LATENCY_BUCKETS, registry=theirs)
    batch.observe_many(VALUES[:4])
    batch.observe_many(VALUES[4:])
    for value in VALUES:
        reference.observe(value)
    expected = {
        (name.replace("ref_", "ours_"), le): value
        for (name, le), value in samples(theirs, "ref_seconds").items()
    }
    assert samples(ours, "ours_seconds") == expected
    assert expected[("ours_seconds_bucket", "0.001")] == 2  # le is inclusive
    assert expected[("ours_seconds_count", "")] == len(VALUES)


def test_a_negative_latency_counts_as_zero() -> None:
    registry = CollectorRegistry()
    batch = BatchHistogram("clock_skew_seconds", "doc", LATENCY_BUCKETS, registry=registry)
    batch.observe_many([-0.5])
    got = samples(registry, "clock_skew_seconds")
    assert got[("clock_skew_seconds_bucket", "0.001")] == 1
    assert got[("clock_skew_seconds_sum", "")] == 0.0
