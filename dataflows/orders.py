"""The orders dataflow: ``python -m bytewax.run dataflows.orders``.

Reads Debezium change events of ``shop.orders`` and writes processed-orders, revenue and
status-transition windows and dead letters (docs/dataflow.md).
This module only wires steps; the rules live in the pure modules next to it.
"""

from __future__ import annotations

import collections
import functools
import gc
import logging
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.operators import KeyedStream
from bytewax.outputs import Sink
from prometheus_client import Counter

from dataflows import metrics, records, revenue, routing, shutdown, transitions
from dataflows.cdc import DeadLetter, Op, OrderChange, RawChange
from dataflows.clock import SYSTEM_CLOCK, Clock
from dataflows.dedupe import TrackedChange
from dataflows.eviction import IDLE_CHECK, IdleCheck, SweepSchedule
from dataflows.placement import ONE_WORKER, Placement
from dataflows.records import OutRecord
from dataflows.revenue import RevenueTotals
from dataflows.routing import Group, ParsedBatch, Partial
from dataflows.settings import (
    METRICS_PORT_VARIABLE,
    DataflowSettings,
    FlowConfig,
    bytewax_placement,
)
from dataflows.stateful import IdleSweep, OrderTracker, WindowedAggregate
from dataflows.transitions import TransitionStats
from dataflows.windows import EventTimeWindows, Fold, WindowResult, WindowSpec, WindowsState
from orderstream.knobs import SettingsError

X = TypeVar("X")

# Windows receive a batch's inputs already folded (routing.Partial), so they merge totals.
REVENUE_FOLD: Fold[RevenueTotals, RevenueTotals] = Fold(revenue.initialize, revenue.merge)
TRANSITIONS_FOLD: Fold[TransitionStats, TransitionStats] = Fold(
    transitions.initialize, transitions.merge
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
    placement: Placement = ONE_WORKER,
    input_channels: Callable[[], Iterable[int]] = frozenset,
) -> Dataflow:
    """``placement``: the run's workers and this process's index (placement.py; the index is
    the route of :func:`dataflows.routing.channel`). ``input_channels``: every channel window
    keys can hear from, when the source knows it (``CdcSource.input_channels``)."""
    config = config or FlowConfig()
    spec = window_spec(config)
    route = placement.process_id

    def track_orders(state: Any) -> OrderTracker:
        return OrderTracker(state, config.order_state_idle, clock, "dedupe_by_order")

    sweep_schedule = SweepSchedule(config.order_state_idle)

    def sweep_idle(state: Any) -> IdleSweep:
        return IdleSweep(state, sweep_schedule, clock)

    def note_in_slot(
        batch: list[Group[OrderChange]],
    ) -> list[tuple[str, tuple[int, tuple[str, ...]]]]:
        slot = sweep_schedule.slot_of(clock.now())
        return sweep_schedule.entries(slot, [bucket for bucket, _ in batch])

    def window_revenue(
        state: WindowsState[RevenueTotals] | None,
    ) -> WindowedAggregate[RevenueTotals]:
        windows = EventTimeWindows(spec, REVENUE_FOLD, state)
        return WindowedAggregate("revenue", windows, clock, input_channels)

    def window_transitions(
        state: WindowsState[TransitionStats] | None,
    ) -> WindowedAggregate[TransitionStats]:
        windows = EventTimeWindows(spec, TRANSITIONS_FOLD, state)
        return WindowedAggregate("transitions", windows, clock, input_channels)

    def processed_records(batch: list[Group[TrackedChange]]) -> list[OutRecord]:
        processed_at = records.iso(clock.now())  # once per batch
        processed_order = records.processed_order
        return [processed_order(t, processed_at) for _, group in batch for t in group]

    def dead_letter_record(letter: DeadLetter) -> OutRecord:
        return records.dead_letter(letter, clock.now())

    flow = Dataflow("orders")
    raw = op.input("read_cdc", flow, source)
    # One item per input batch from here to the keyed steps: Bytewax charges per item.
    parsed = op.flat_map_batch("parse_cdc", raw, _parse_and_count)
    invalid = op.flat_map("invalid_records", parsed, _dead_letters)
    # Per-order state lives in buckets of consecutive order ids (order_buckets.py); each
    # bucket gets its changes of a batch as one group.
    by_order: KeyedStream[list[OrderChange]] = op.flat_map(
        "group_by_order_bucket", parsed, _changes_by_bucket
    )
    # Idle orders are forgotten by slot (eviction.py), not with one timer per order.
    noted = op.flat_map_batch("note_in_slot", by_order, note_in_slot)
    due = op.stateful("sweep_idle_orders", noted, sweep_idle)
    checks = op.map("idle_checks", due, _idle_check)
    by_order_and_checks: KeyedStream[list[OrderChange] | IdleCheck] = op.merge(
        "changes_and_idle_checks", by_order, checks
    )
    tracked = op.stateful("dedupe_by_order", by_order_and_checks, track_orders)
    _tap("count_processed", tracked, _count_processed)
    processed = op.flat_map_batch("format_processed", tracked, processed_records)
    op.output("write_processed", processed, sinks.processed)

    revenue_groups = functools.partial(routing.revenue_groups, spec=spec, route=route)
    by_currency = op.flat_map_batch("revenue_by_currency", tracked, revenue_groups)
    _tap("count_revenue", by_currency, _count_revenue)
    revenue_out = op.stateful("window_revenue", by_currency, window_revenue)
    revenue_records = op.filter_map("format_revenue", revenue_out, _revenue_record)
    op.output("write_revenue", revenue_records, sinks.revenue)

    transition_groups = functools.partial(routing.transition_groups, spec=spec, route=route)
    by_pair = op.flat_map_batch("transitions_by_pair", tracked, transition_groups)
    _tap("count_transitions", by_pair, _count_transitions)
    transitions_out = op.stateful("window_transitions", by_pair, window_transitions)
    transition_records = op.filter_map("format_transitions", transitions_out, _transition_record)
    op.output("write_transitions", transition_records, sinks.transitions)

    too_late_revenue = op.filter_map("expired_revenue", revenue_out, _keyed_dead_letter)
    too_late_transitions = op.filter_map("expired_transitions", transitions_out, _keyed_dead_letter)
    dead_letters = op.merge("dead_letters", invalid, too_late_revenue, too_late_transitions)
    _tap("count_dlq", dead_letters, _count_dead_letters)
    dlq_records = op.map("format_dlq", dead_letters, dead_letter_record)
    op.output("write_dlq", dlq_records, sinks.dead_letters)
    return flow


def window_spec(config: FlowConfig) -> WindowSpec:
    return WindowSpec(
        config.window_length,
        config.allowed_lateness,
        config.window_retention,
        partition_idle=config.watermark_idle,
    )


def flow() -> Dataflow:
    """Production wiring; ``python -m bytewax.run dataflows.orders`` calls this."""
    shutdown.stop_on_sigterm()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    placement = bytewax_placement(sys.argv[1:], os.environ)
    try:
        settings = DataflowSettings.from_env(placement=placement)
    except SettingsError as err:
        raise SystemExit(f"dataflows.orders: {err}") from None
    _serve_metrics(settings, placement.process_id)
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
        servers,
        topics.cdc,
        settings.idle_poll,
        batch_size=settings.batch_size,
        prefetch_kbytes=settings.prefetch_kbytes,
        placement=placement,
    )
    return build_flow(
        source, sinks, settings.flow, placement=placement, input_channels=source.input_channels
    )


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


def _serve_metrics(settings: DataflowSettings, process_id: int) -> None:
    name = METRICS_PORT_VARIABLE
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


def _tap(step_id: str, up: Stream[X], count: Callable[[list[X]], None]) -> None:
    """Like ``op.inspect``, but Bytewax calls into Python once per batch, not twice per item,
    and ``count`` increments each metric once per batch."""

    def count_batch(batch: list[X]) -> list[X]:
        count(batch)
        return []

    op.flat_map_batch(step_id, up, count_batch)


def _parse_and_count(batch: list[RawChange]) -> list[ParsedBatch]:
    parsed = routing.parse_batch(batch)
    metrics.EVENTS_IN.inc(parsed.read)
    if parsed.tombstones:
        metrics.TOMBSTONES.inc(parsed.tombstones)
    return [parsed]


def _changes_by_bucket(parsed: ParsedBatch) -> list[Group[OrderChange]]:
    return parsed.changes


def _dead_letters(parsed: ParsedBatch) -> list[DeadLetter]:
    return parsed.dead_letters


def _count_processed(batch: list[Group[TrackedChange]]) -> None:
    by_op: collections.Counter[Op] = collections.Counter()
    for _, group in batch:
        for tracked in group:
            change = tracked.change
            by_op[change.op] += 1
            if tracked.anomalies:
                from_status = "none" if change.from_status is None else str(change.from_status)
                metrics.ILLEGAL_TRANSITIONS.labels(from_status, str(change.image.status)).inc()
    for change_op, count in by_op.items():
        _processed_counter(change_op).inc(count)


# Looking up a labelled child costs more than the increment: keep them (few label values).
@functools.cache
def _processed_counter(change_op: Op) -> Counter:
    return metrics.PROCESSED.labels(str(change_op))


@functools.cache
def _transitions_counter(pair: str) -> Counter:
    from_status, to_status = pair.split("|", 1)
    return metrics.STATUS_TRANSITIONS.labels(from_status, to_status)


def _count_revenue(batch: list[Group[Partial[RevenueTotals]]]) -> None:
    for currency, group in batch:
        totals = revenue.total([part.value for part in group])
        metrics.count_revenue(currency, totals.gross, totals.refunds, totals.adjustments)


def _count_transitions(batch: list[Group[Partial[TransitionStats]]]) -> None:
    for pair, group in batch:
        _transitions_counter(pair).inc(sum(part.value.count for part in group))


def _count_dead_letters(batch: list[DeadLetter]) -> None:
    for letter in batch:
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
