"""The dataflow's latency histograms tell the truth: they agree with a client-clock probe.

The probe commits orders through MariaDB as the application does and notes, on its own
clock, when each commit returned and when the order's processed-orders record arrived; the
dataflow's ``orders_e2e_latency_seconds`` observed the same changes (plus any background
traffic) between two scrapes of /metrics. Their medians must agree within 20 ms.
"""

from __future__ import annotations

import statistics
import threading

from bench.dataflow_run import scrape
from bench.latency_probe import Prober, TopicTail, probe_ids, processed_key_id
from bench.latency_stats import bucket_delta, histogram_quantile
from orderstream.settings import Settings
from tests.integration.conftest import poll_until

PROBES = 60
INTERVAL_S = 0.1
AGREEMENT_MS = 20.0
HISTOGRAMS = (
    "orders_e2e_latency_seconds",
    "orders_capture_latency_seconds",
    "orders_dataflow_latency_seconds",
)


def buckets(series: dict[str, float], name: str) -> dict[float, float]:
    prefix = name + '_bucket{le="'
    return {float(k[len(prefix) : -2]): v for k, v in series.items() if k.startswith(prefix)}


def test_e2e_latency_metric_agrees_with_a_client_clock_probe(settings: Settings) -> None:
    ids = probe_ids(PROBES)
    tail = TopicTail(settings, settings.topic_processed, set(ids), processed_key_id)
    prober = Prober(settings, ids, INTERVAL_S)
    tail.start()
    try:
        before = scrape(settings.dataflow_metrics_url)
        prober.run(threading.Event())
        poll_until(
            "every probe order on processed-orders",
            lambda: len(tail.arrivals.at) == PROBES,
            timeout=60,
            interval=0.1,
        )
        after = scrape(settings.dataflow_metrics_url)
    finally:
        tail.stop()
        prober.delete_probes()
        prober.close()
    assert tail.error is None

    probe_ms = [(tail.arrivals.at[i] - prober.committed_at[i]) * 1000 for i in ids]
    probe_p50 = statistics.median(probe_ms)
    observed = {
        name: bucket_delta(buckets(after, name), buckets(before, name)) for name in HISTOGRAMS
    }
    for name, delta in observed.items():
        assert delta[float("inf")] >= PROBES, f"{name} did not observe every probe: {delta}"
    p50 = {name: 1000 * (histogram_quantile(0.5, d) or 0.0) for name, d in observed.items()}
    report = f"probe p50 {probe_p50:.1f} ms, metrics p50 {p50}"
    assert abs(p50["orders_e2e_latency_seconds"] - probe_p50) <= AGREEMENT_MS, report
    # each stage is part of the one before: read -> output <= capture -> output <= e2e
    slack = 5.0  # interpolation inside a bucket
    assert p50["orders_dataflow_latency_seconds"] <= p50["orders_capture_latency_seconds"] + slack
    assert p50["orders_capture_latency_seconds"] <= p50["orders_e2e_latency_seconds"] + slack
