"""The orders dataflow: ``python -m bytewax.run dataflows.orders``.

Reads Debezium change events of ``shop.orders`` and writes processed-orders, revenue and
status-transition windows and dead letters (docs/dataflow.md).
This module only wires steps; the rules live in the pure modules next to it.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.operators import KeyedStream
from bytewax.outputs import Sink
from prometheus_client import Counter

from dataflows import metrics, order_buckets, records, revenue, routing, shutdown, transitions
from dataflows.cdc import DeadLetter, Op, OrderChange, Parsed, RawChange, Tombstone, parse_change
from dataflows.clock import SYSTEM_CLOCK, Clock
from dataflows.dedupe import TrackedChange
from dataflows.eviction import IDLE_CHECK, IdleCheck, SweepSchedule
from dataflows.records import OutRecord
from dataflows.revenue import RevenueTotals
from dataflows.routing import Timed
from dataflows.settings import (
    METRICS_PORT_VARIABLE,
    DataflowSettings,
    FlowConfig,
    bytewax_process_id,
)
from dataflows.stateful import IdleSweep, OrderTracker, WindowedAggregate
from dataflows.transitions import TransitionSample, TransitionStats
from dataflows.windows import EventTimeWindows, Fold, WindowResult, WindowSpec, WindowsState
from orderstream.contract import OrderStatus
from orderstream.knobs import SettingsError

X = TypeVar("X")

REVENUE_FOLD: Fold[RevenueTotals, RevenueTotals] = Fold(revenue.initialize, revenue.agg)
TRANSITIONS_FOLD: Fold[TransitionSample, TransitionStats] = Fold(
    transitions.initialize, transitions.agg
)


@dataclass(frozen=True)
class Sinks:
    processed: Sink[OutRecord]
    revenue: Sink[OutRecord]
    transitions: Sink[OutRecord]
    dead_letters: Sink[OutRecord]


def build_flow(
    source: Source[RawChange],
    sinks: Sinks,
    config: FlowConfig | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> Dataflow:
    config = config or FlowConfig()
    spec = WindowSpec(
        config.window_length,
        config.allowed_lateness,
        config.window_retention,
        partition_idle=config.watermark_idle,
    )

    def track_orders(state: Any) -> OrderTracker:
        return OrderTracker(state, config.order_state_idle, clock, "dedupe_by_order")

    sweep_schedule = SweepSchedule(config.order_state_idle)

    def sweep_idle(state: Any) -> IdleSweep:
        return IdleSweep(state, sweep_schedule, clock)

    def note_in_slot(
        batch: list[tuple[str, OrderChange]],
    ) -> list[tuple[str, tuple[int, tuple[str, ...]]]]:
        slot = sweep_schedule.slot_of(clock.now())
        return sweep_schedule.entries(slot, [bucket for bucket, _ in batch])

    def window_revenue(
        state: WindowsState[RevenueTotals] | None,
    ) -> WindowedAggregate[RevenueTotals, RevenueTotals]:
        return WindowedAggregate("revenue", EventTimeWindows(spec, REVENUE_FOLD, state), clock)

    def window_transitions(
        state: WindowsState[TransitionStats] | None,
    ) -> WindowedAggregate[TransitionSample, TransitionStats]:
        windows = EventTimeWindows(spec, TRANSITIONS_FOLD, state)
        return WindowedAggregate("transitions", windows, clock)

    def processed_records(batch: list[tuple[str, TrackedChange]]) -> list[OutRecord]:
        processed_at = records.iso(clock.now())  # once per batch
        return [records.processed_order(tracked, processed_at) for _, tracked in batch]

    def dead_letter_record(letter: DeadLetter) -> OutRecord:
        return records.dead_letter(letter, clock.now())

    flow = Dataflow("orders")
    raw = op.input("read_cdc", flow, source)
    _tap("count_in", raw, _count_in)
    parsed = op.map("parse_cdc", raw, parse_change)
    _tap("count_tombstones", parsed, _count_tombstone)
    invalid = op.filter_map("invalid_records", parsed, routing.dead_letter_or_none)
    changes = op.filter_map("order_changes", parsed, routing.change_or_none)

    # Per-order state lives in buckets of consecutive order ids (order_buckets.py).
    by_order = op.key_on("key_by_order_bucket", changes, order_buckets.bucket_key)
    # Idle orders are forgotten by slot (eviction.py), not with one timer per order.
    noted = op.flat_map_batch("note_in_slot", by_order, note_in_slot)
    due = op.stateful("sweep_idle_orders", noted, sweep_idle)
    checks = op.map("idle_checks", due, _idle_check)
    by_order_and_checks: KeyedStream[OrderChange | IdleCheck] = op.merge(
        "changes_and_idle_checks", by_order, checks
    )
    tracked = op.stateful("dedupe_by_order", by_order_and_checks, track_orders)
    _tap("count_processed", tracked, _count_processed)
    processed = op.flat_map_batch("format_processed", tracked, processed_records)
    op.output("write_processed", processed, sinks.processed)

    by_currency = op.filter_map("revenue_by_currency", tracked, routing.revenue_input)
    _tap("count_revenue", by_currency, _count_revenue)
    revenue_out = op.stateful("window_revenue", by_currency, window_revenue)
    revenue_records = op.filter_map("format_revenue", revenue_out, _revenue_record)
    op.output("write_revenue", revenue_records, sinks.revenue)

    by_pair = op.filter_map("transitions_by_pair", tracked, routing.transition_input)
    _tap("count_transitions", by_pair, _count_transition)
    transitions_out = op.stateful("window_transitions", by_pair, window_transitions)
    transition_records = op.filter_map("format_transitions", transitions_out, _transition_record)
    op.output("write_transitions", transition_records, sinks.transitions)

    too_late_revenue = op.filter_map("expired_revenue", revenue_out, _keyed_dead_letter)
    too_late_transitions = op.filter_map("expired_transitions", transitions_out, _keyed_dead_letter)
    dead_letters = op.merge("dead_letters", invalid, too_late_revenue, too_late_transitions)
    _tap("count_dlq", dead_letters, _count_dead_letter)
    dlq_records = op.map("format_dlq", dead_letters, dead_letter_record)
    op.output("write_dlq", dlq_records, sinks.dead_letters)
    return flow


def flow() -> Dataflow:
    """Production wiring; ``python -m bytewax.run dataflows.orders`` calls this."""
    shutdown.stop_on_sigterm()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        settings = DataflowSettings.from_env()
    except SettingsError as err:
        raise SystemExit(f"dataflows.orders: {err}") from None
    _serve_metrics(settings)
    tune_gc()

    # Imported here so that tests and tools can build flows without confluent_kafka.
    from dataflows.kafka_io import CdcSource, KafkaTopicSink

    topics, timeout = settings.topics, settings.delivery_timeout
    servers = settings.bootstrap_servers
    sinks = Sinks(
        processed=KafkaTopicSink(servers, topics.processed, timeout, observe_latency=True),
        revenue=KafkaTopicSink(servers, topics.revenue, timeout),
        transitions=KafkaTopicSink(servers, topics.transitions, timeout),
        dead_letters=KafkaTopicSink(servers, topics.dlq, timeout),
    )
    source = CdcSource(
        servers, topics.cdc, settings.idle_poll, prefetch_kbytes=settings.prefetch_kbytes
    )
    return build_flow(source, sinks, settings.flow)


#: Young-generation threshold of the garbage collector (CPython's default is 700).
GC_YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Collect cyclic garbage less often. Almost every object the flow allocates is a record
    freed by reference counting within the batch, or state that lives for hours; with the
    default threshold the collector runs every 700 allocations and traverses the young
    generation each time (~19 % of the CPU time). ``gc.freeze`` keeps the modules' objects
    out of every later full collection."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 100)


def _serve_metrics(settings: DataflowSettings) -> None:
    name = METRICS_PORT_VARIABLE
    process_id = bytewax_process_id(sys.argv[1:], os.environ)
    port = settings.metrics_port + process_id
    if port > 65535:
        raise SystemExit(
            f"dataflows.orders: {name}={settings.metrics_port} + process id {process_id} > 65535"
        )
    try:
        metrics.serve(settings.metrics_host, port)
    except OSError as err:
        raise SystemExit(
            f"dataflows.orders: cannot serve metrics on {settings.metrics_host}:{port} "
            f"({name}={settings.metrics_port} + process id {process_id}): {err}"
        ) from None


# --- metric taps -------------------------------------------------------------------------


def _tap(step_id: str, up: Stream[X], count: Callable[[str, X], None]) -> None:
    """Like ``op.inspect``, but Bytewax calls into Python once per batch, not twice per item
    (a tap on every item of the flow costs ~1 µs per item as an ``inspect``)."""

    def count_batch(batch: list[X]) -> list[X]:
        for item in batch:
            count(step_id, item)
        return []

    op.flat_map_batch(step_id, up, count_batch)



def _count_in(_step_id: str, _raw: RawChange) -> None:
    metrics.EVENTS_IN.inc()


def _count_tombstone(_step_id: str, parsed: Parsed) -> None:
    if isinstance(parsed, Tombstone):
        metrics.TOMBSTONES.inc()


def _count_processed(_step_id: str, keyed: tuple[str, TrackedChange]) -> None:
    tracked = keyed[1]
    change: OrderChange = tracked.change
    _processed_counter(change.op).inc()
    if tracked.anomalies:
        from_status = "none" if change.from_status is None else str(change.from_status)
        metrics.ILLEGAL_TRANSITIONS.labels(from_status, str(change.image.status)).inc()


# Looking up a labelled child costs more than the increment: keep them (few label values).
@functools.cache
def _processed_counter(change_op: Op) -> Counter:
    return metrics.PROCESSED.labels(str(change_op))


@functools.cache
def _transitions_counter(from_status: OrderStatus, to_status: OrderStatus) -> Counter:
    return metrics.STATUS_TRANSITIONS.labels(str(from_status), str(to_status))


def _count_revenue(_step_id: str, keyed: tuple[str, Timed[RevenueTotals]]) -> None:
    currency, totals = keyed[0], keyed[1].value
    metrics.count_revenue(currency, totals.gross, totals.refunds, totals.adjustments)


def _count_transition(_step_id: str, keyed: tuple[str, Timed[TransitionSample]]) -> None:
    sample = keyed[1].value
    _transitions_counter(sample.from_status, sample.to_status).inc()


def _count_dead_letter(_step_id: str, letter: DeadLetter) -> None:
    metrics.DLQ.labels(str(letter.reason)).inc()


# --- window outputs ----------------------------------------------------------------------


def _revenue_record(
    keyed: tuple[str, WindowResult[RevenueTotals] | DeadLetter],
) -> OutRecord | None:
    currency, out = keyed
    return records.revenue_window(currency, out) if isinstance(out, WindowResult) else None


def _transition_record(
    keyed: tuple[str, WindowResult[TransitionStats] | DeadLetter],
) -> OutRecord | None:
    pair, out = keyed
    return records.transitions_window(pair, out) if isinstance(out, WindowResult) else None


def _idle_check(keyed: tuple[str, str]) -> tuple[str, IdleCheck]:
    return keyed[1], IDLE_CHECK


def _keyed_dead_letter(keyed: tuple[str, object]) -> DeadLetter | None:
    return keyed[1] if isinstance(keyed[1], DeadLetter) else None
