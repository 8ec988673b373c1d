"""The dataflow's settings: the shared stack settings plus its own knobs, all from the env.

A malformed value raises :class:`orderstream.settings.SettingsError` naming the variable;
``dataflows.orders.flow`` turns that into a one-line exit message.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from orderstream.settings import Settings, env_int

#: Per-order state (dedupe baseline, status entry time) is dropped after this much system
#: time without a change for the order.
ORDER_STATE_IDLE_SECONDS = ("ORDERSTREAM_ORDER_STATE_IDLE_SECONDS", 6 * 3600)
#: A closed window's totals are kept this long (event time, past the window end, measured by
#: the watermark) so late changes can still correct it.
WINDOW_RETENTION_SECONDS = ("ORDERSTREAM_WINDOW_RETENTION_SECONDS", 24 * 3600)
#: Prometheus /metrics port of the first dataflow process; process i serves on port + i.
#: Read by orderstream.settings (default 9108), which also checks it against other ports.
METRICS_PORT_VARIABLE = "ORDERSTREAM_DATAFLOW_METRICS_PORT"
#: How long the producer may try to deliver a record before the dataflow stops.
DELIVERY_TIMEOUT_SECONDS = ("ORDERSTREAM_DATAFLOW_DELIVERY_TIMEOUT_SECONDS", 120)


@dataclass(frozen=True)
class FlowConfig:
    """The knobs of the dataflow's semantics (ARCHITECTURE.md §5)."""

    window_length: timedelta = timedelta(seconds=60)
    allowed_lateness: timedelta = timedelta(seconds=10)
    window_retention: timedelta = timedelta(hours=24)
    order_state_idle: timedelta = timedelta(hours=6)


@dataclass(frozen=True)
class Topics:
    cdc: str
    processed: str
    revenue: str
    transitions: str
    dlq: str


@dataclass(frozen=True)
class DataflowSettings:
    bootstrap_servers: str
    topics: Topics
    flow: FlowConfig
    metrics_host: str
    metrics_port: int
    delivery_timeout: timedelta

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DataflowSettings:
        e = os.environ if env is None else env
        stack = Settings.from_env(e)
        name, default = ORDER_STATE_IDLE_SECONDS
        idle = env_int(e, name, default, minimum=1)
        name, default = WINDOW_RETENTION_SECONDS
        retention = env_int(e, name, default, minimum=0)
        name, default = DELIVERY_TIMEOUT_SECONDS
        delivery_timeout = env_int(e, name, default, minimum=1)
        return cls(
            bootstrap_servers=stack.bootstrap_servers,
            topics=Topics(
                cdc=stack.topic_cdc,
                processed=stack.topic_processed,
                revenue=stack.topic_revenue,
                transitions=stack.topic_transitions,
                dlq=stack.topic_dlq,
            ),
            flow=FlowConfig(
                window_length=timedelta(seconds=stack.window_seconds),
                allowed_lateness=timedelta(seconds=stack.allowed_lateness_seconds),
                window_retention=timedelta(seconds=retention),
                order_state_idle=timedelta(seconds=idle),
            ),
            metrics_host=stack.host,
            metrics_port=stack.dataflow_metrics_port,
            delivery_timeout=timedelta(seconds=delivery_timeout),
        )


def bytewax_process_id(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """This process's index in a multi-process run (``-i/--process-id``), 0 when alone.

    Reads the same flag and env var (``BYTEWAX_PROCESS_ID``) as ``python -m bytewax.run``.
    """
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("-i", "--process-id", type=int, default=None)
    known, _ = parser.parse_known_args(list(argv))
    if known.process_id is not None:
        return int(known.process_id)
    raw = env.get("BYTEWAX_PROCESS_ID", "").strip()
    return int(raw) if raw.isdigit() else 0
