"""The Pipeline dashboard: what the dataflow reads, emits, drops and how late it is."""

from __future__ import annotations

from orderstream.monitoring.dashboards.common import Board, Query, increase, rate

F = 'job="dataflow"'


def build() -> Board:
    board = Board(
        title="orderstream / Pipeline",
        uid="orderstream-pipeline",
        description="The Bytewax dataflow: changes in and out, dead letters, lag, latency, "
        "revenue and status transitions (metrics: dataflows/metrics.py).",
    )
    board.variable("currency", "Currency", f"label_values(orders_revenue_total{{{F}}}, currency)")

    board.row("Health")
    board.stat(
        "Dataflow processes up",
        "Dataflow processes Prometheus scrapes successfully (alert: DataflowDown).",
        [Query(f"sum(up{{{F}}})", "up")],
        thresholds=((None, "red"), (1, "green")),
    )
    board.stat(
        "Consumer lag",
        "Records of mysql-orders not yet read by the dataflow, all partitions.",
        [Query(f"sum(bytewax_kafka_consumer_lag{{{F}}})", "lag")],
        thresholds=((None, "green"), (1000, "orange"), (10000, "red")),
    )
    board.stat(
        "Dead letters (1h)",
        "Records sent to orders-dlq in the last hour (alert: DataflowDeadLetters).",
        [Query(increase(f"orders_dlq_total{{{F}}}", window="1h"), "dead letters")],
        thresholds=((None, "green"), (1, "orange")),
    )
    board.stat(
        "Latency p99 (5m)",
        "Commit to processed-orders output, 99th percentile over 5 minutes "
        "(alert: DataflowLatencyHigh above 1 s).",
        [
            Query(
                "histogram_quantile(0.99, "
                f"sum by (le) (rate(orders_e2e_latency_seconds_bucket{{{F}}}[5m])))",
                "p99",
            )
        ],
        unit="s",
        thresholds=((None, "green"), (0.5, "orange"), (1, "red")),
    )
    board.stat(
        "Tracked orders",
        "Orders whose dedupe and status state the dataflow keeps (evicted after idle time).",
        [Query(f"sum(orders_tracked_orders{{{F}}})", "orders")],
    )
    board.stat(
        "Changes in (5m rate)",
        "CDC records read from mysql-orders per second.",
        [Query(f"sum(rate(orders_events_in_total{{{F}}}[5m]))", "in")],
        unit="ops",
    )

    board.row("Throughput")
    board.timeseries(
        "Changes in and processed out",
        "Records read from mysql-orders, and order changes emitted to processed-orders by op "
        "(c insert, u update, d delete, r snapshot read).",
        [
            Query(rate(f"orders_events_in_total{{{F}}}"), "changes in"),
            Query(rate(f"orders_processed_total{{{F}}}", by="op"), "out op={{op}}"),
        ],
        unit="ops",
    )
    board.timeseries(
        "Duplicates and tombstones dropped",
        "Changes whose version was already emitted (replays, connector restarts), and "
        "tombstones skipped.",
        [
            Query(rate(f"orders_duplicates_dropped_total{{{F}}}"), "duplicates"),
            Query(rate(f"orders_tombstones_total{{{F}}}"), "tombstones"),
        ],
        unit="ops",
    )
    board.timeseries(
        "Dead letters by reason",
        "Records sent to orders-dlq per interval, by reason (each reason exists from start at 0).",
        [Query(increase(f"orders_dlq_total{{{F}}}", by="reason"), "{{reason}}")],
        bars=True,
        stacked=True,
    )
    board.timeseries(
        "Late events by aggregate",
        "Changes that arrived after their window closed and produced a corrected revision.",
        [Query(increase(f"orders_late_events_total{{{F}}}", by="aggregate"), "{{aggregate}}")],
        bars=True,
    )
    board.timeseries(
        "Consumer lag by partition",
        "bytewax_kafka_consumer_lag: records of each mysql-orders partition not yet read "
        "(alerts: DataflowStalled, DataflowLagGrowing).",
        [
            Query(
                f"sum by (partition) (bytewax_kafka_consumer_lag{{{F}}})",
                "partition {{partition}}",
            )
        ],
    )
    board.timeseries(
        "End-to-end latency p50 / p99",
        "Database commit to confirmed produce of the processed-orders record.",
        [
            Query(
                "histogram_quantile(0.5, sum by (le) "
                f"(rate(orders_e2e_latency_seconds_bucket{{{F}}}[$__rate_interval])))",
                "p50",
            ),
            Query(
                "histogram_quantile(0.99, sum by (le) "
                f"(rate(orders_e2e_latency_seconds_bucket{{{F}}}[$__rate_interval])))",
                "p99",
            ),
        ],
        unit="s",
    )

    board.row("Business")
    board.timeseries(
        "Gross revenue per minute by currency",
        "Sum of the amounts of changes into PAID, per currency, per minute of processing.",
        [
            Query(
                increase(
                    f'orders_revenue_total{{{F}, kind="gross", currency=~"$currency"}}',
                    by="currency",
                    window="1m",
                ),
                "{{currency}}",
            )
        ],
        bars=True,
    )
    board.timeseries(
        "Refunds and adjustments per minute by currency",
        "Refunds (amounts of PAID->CANCELLED, ->REFUNDED) and amount adjustments, per minute.",
        [
            Query(
                increase(
                    f'orders_revenue_total{{{F}, kind!="gross", currency=~"$currency"}}',
                    by="currency, kind",
                    window="1m",
                ),
                "{{currency}} {{kind}}",
            )
        ],
    )
    board.timeseries(
        "Status transitions per minute",
        "Status changes counted into the transition windows, by (from, to).",
        [
            Query(
                increase(f"orders_status_transitions_total{{{F}}}", by="from, to", window="1m"),
                "{{from}} -> {{to}}",
            )
        ],
        stacked=True,
    )
    board.timeseries(
        "Illegal transitions",
        "Changes whose status change breaks the order life cycle (still emitted, flagged).",
        [
            Query(
                increase(f"orders_illegal_transitions_total{{{F}}}", by="from, to"),
                "{{from}} -> {{to}}",
            )
        ],
        bars=True,
    )
    board.timeseries(
        "Tracked orders",
        "Per-order state kept by each dataflow process.",
        [Query(f"sum by (instance) (orders_tracked_orders{{{F}}})", "{{instance}}")],
    )
    return board
