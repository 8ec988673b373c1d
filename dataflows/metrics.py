"""Prometheus metrics of the dataflow, prefix ``orders_`` (docs/dataflow.md, "Metrics").

All metrics live in prometheus-client's default registry, which also holds Bytewax's own
``bytewax_kafka_consumer_lag``; :func:`serve` exposes it on /metrics.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from dataflows.cdc import Reason
from dataflows.records import LatencyMarks

EVENTS_IN = Counter("orders_events_in", "CDC records read from the input topic")
PROCESSED = Counter(
    "orders_processed", "Order changes emitted to processed-orders, by Debezium op", ["op"]
)
DUPLICATES_DROPPED = Counter(
    "orders_duplicates_dropped", "Changes dropped because their version was already emitted"
)
DLQ = Counter("orders_dlq", "Records sent to the dead-letter topic, by reason", ["reason"])
# Every reason exists from the start at 0: a child that first appears at 1 is invisible to
# increase(), so the first dead letter would not fire DataflowDeadLetters.
for _reason in Reason:
    DLQ.labels(_reason.value)
LATE_EVENTS = Counter(
    "orders_late_events",
    "Changes that arrived after the watermark passed their window's end, by aggregate",
    ["aggregate"],
)
ILLEGAL_TRANSITIONS = Counter(
    "orders_illegal_transitions",
    "Changes whose status change is not a legal transition (from=none: an insert)",
    ["from", "to"],
)
TOMBSTONES = Counter("orders_tombstones", "Tombstones (null values after deletes) skipped")
REVENUE = Counter(
    "orders_revenue",
    "Money counted into revenue windows, by currency and kind "
    "(gross, refunds, adjustments_up, adjustments_down; all non-negative)",
    ["currency", "kind"],
)
STATUS_TRANSITIONS = Counter(
    "orders_status_transitions", "Status transitions counted into windows", ["from", "to"]
)
#: Fine below 100 ms (the pipeline's target), coarse up to minutes (a backlog being drained).
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.075,
    0.1, 0.125, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
)


class BatchHistogram(Collector):
    """A Prometheus histogram observed a batch of values at a time.

    prometheus-client's ``Histogram.observe`` takes a lock and walks the buckets in Python
    for every value (~2 µs); the sink observes three latencies per processed record, which
    was a tenth of the dataflow's CPU per change. This keeps the bucket counts in one list,
    files a whole batch under one lock (``bisect`` finds each value's bucket in C) and is
    exported through prometheus-client's custom-collector API with the same
    ``_bucket``/``_sum``/``_count`` series as ``Histogram``.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        buckets: Sequence[float],
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._bounds = [*buckets, math.inf]
        self._counts = [0] * len(self._bounds)
        self._sum = 0.0
        self._lock = threading.Lock()
        registry.register(self)

    def observe_many(self, values: Iterable[float]) -> None:
        """Observe every value (seconds; a negative one counts as 0)."""
        bounds, counts = self._bounds, [0] * len(self._bounds)
        total = 0.0
        for value in values:
            if value < 0:
                value = 0.0
            counts[bisect.bisect_left(bounds, value)] += 1
            total += value
        with self._lock:
            for index, count in enumerate(counts):
                if count:
                    self._counts[index] += count
            self._sum += total

    def collect(self) -> Iterator[HistogramMetricFamily]:
        with self._lock:
            counts, total = list(self._counts), self._sum
        cumulative = list(itertools.accumulate(counts))
        buckets = [
            (floatToGoString(bound), float(count))  # type: ignore[no-untyped-call]
            for bound, count in zip(self._bounds, cumulative, strict=True)
        ]
        yield HistogramMetricFamily(
            self._name, self._documentation, buckets=buckets, sum_value=total
        )

    def describe(self) -> list[HistogramMetricFamily]:
        return [HistogramMetricFamily(self._name, self._documentation)]


E2E_LATENCY = BatchHistogram(
    "orders_e2e_latency_seconds",
    "Row commit (the change's own updated_at; inserts and updates) to confirmed produce of "
    "its processed-orders record",
    LATENCY_BUCKETS,
)
CAPTURE_LATENCY = BatchHistogram(
    "orders_capture_latency_seconds",
    "Debezium read the change (envelope ts_us) to confirmed produce of its processed-orders "
    "record",
    LATENCY_BUCKETS,
)
DATAFLOW_LATENCY = BatchHistogram(
    "orders_dataflow_latency_seconds",
    "The dataflow read the change from the CDC topic to confirmed produce of its "
    "processed-orders record",
    LATENCY_BUCKETS,
)
TRACKED_ORDERS = Gauge(
    "orders_tracked_orders", "Orders whose per-order state this process currently keeps"
)


def count_revenue(currency: str, gross: Decimal, refunds: Decimal, adjustments: Decimal) -> None:
    if gross:
        _revenue(currency, "gross").inc(float(gross))
    if refunds:
        _revenue(currency, "refunds").inc(float(refunds))
    if adjustments > 0:
        _revenue(currency, "adjustments_up").inc(float(adjustments))
    elif adjustments < 0:
        _revenue(currency, "adjustments_down").inc(float(-adjustments))


#: The labelled child per (currency, kind): looking it up costs more than the increment.
_revenue = functools.cache(REVENUE.labels)


def observe_latency(marks: Iterable[LatencyMarks], delivered_at: float) -> None:
    """Observe every known stage of records confirmed at ``delivered_at`` (epoch seconds)."""
    marks = list(marks)
    E2E_LATENCY.observe_many(
        delivered_at - m.committed_at for m in marks if m.committed_at is not None
    )
    CAPTURE_LATENCY.observe_many(
        delivered_at - m.captured_at for m in marks if m.captured_at is not None
    )
    DATAFLOW_LATENCY.observe_many(delivered_at - m.read_at for m in marks if m.read_at is not None)


def serve(host: str, port: int) -> None:
    """Serve /metrics in a daemon thread; raises OSError if the port is taken."""
    start_http_server(port, addr=host)
