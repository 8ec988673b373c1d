"""The dataflow's own settings: only the variables ``dataflows.orders`` uses, from the env.

Nothing about MariaDB, JMX, heaps or the stack's other ports is read here, so no such
setting can stop the dataflow. Knobs shared with other programs (host, bootstrap servers,
topic names, window length, lateness, metrics port) come from :mod:`orderstream.knobs`, each
with its one default. A malformed value raises :class:`orderstream.knobs.SettingsError`
naming the variable; ``dataflows.orders.flow`` turns that into a one-line exit message.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from dataflows.placement import ONE_WORKER, Placement
from orderstream import contract, knobs
from orderstream.knobs import TopicNames, env_int

#: Per-order state (dedupe baseline, status entry time) is dropped after this much system
#: time without a change for the order.
ORDER_STATE_IDLE_SECONDS = ("ORDERSTREAM_ORDER_STATE_IDLE_SECONDS", 6 * 3600)
#: A closed window's totals are kept this long (event time, past the window end, measured by
#: the watermark) so late changes can still correct it.
WINDOW_RETENTION_SECONDS = ("ORDERSTREAM_WINDOW_RETENTION_SECONDS", 24 * 3600)
#: A CDC partition that has sent a window key nothing for this much system time stops
#: holding the key's watermark back (windows.py): bounds how long old history read in a
#: backlog can keep a rare key's windows open.
WATERMARK_IDLE_SECONDS = ("ORDERSTREAM_WATERMARK_IDLE_SECONDS", 30)
#: Prometheus /metrics port of the first dataflow process; process i serves on port + i.
METRICS_PORT_VARIABLE = knobs.DATAFLOW_METRICS_PORT
#: How long the producer may try to deliver a record before the dataflow stops.
DELIVERY_TIMEOUT_SECONDS = ("ORDERSTREAM_DATAFLOW_DELIVERY_TIMEOUT_SECONDS", 120)
#: How long an input partition with nothing to read waits before it is polled again: the
#: most latency an idle source adds, against the CPU an idle dataflow spends polling.
IDLE_POLL_MS = ("ORDERSTREAM_DATAFLOW_IDLE_POLL_MS", 5)
#: How much librdkafka may fetch ahead for each input partition (one consumer each), in KiB:
#: bounds the memory a backlog takes before the dataflow reads it (librdkafka's default,
#: 65536 per consumer, is up to 64 MiB per partition). At least 1024, one fetch.
PREFETCH_KBYTES = ("ORDERSTREAM_DATAFLOW_PREFETCH_KBYTES", 8192)
#: The most records one input partition hands the dataflow at a time. Each batch goes through
#: every step as one item, each sink confirms its records once per batch (a wait for the
#: brokers' acks) and each window key gets one partial per window (routing.Partial), so in a
#: backlog bigger batches cost less per record (paired drains: 10000 ran 15-25 % faster than
#: 2000; bench/README.md); when the dataflow keeps up, a batch holds what arrived since the
#: last poll, whatever the cap.
BATCH_SIZE = ("ORDERSTREAM_DATAFLOW_BATCH_SIZE", 10000)
#: The default with several processes that each read their own partitions (placement.py):
#: in paired 2-process drains 5000 was ahead of 10000.
MULTI_PROCESS_BATCH_SIZE = 5000
#: The default with several processes of several workers each, where Bytewax spreads the
#: partitions and per-order state crosses between processes: their forwarding lags apart by
#: more the bigger the batches, and a window key that first hears from a process after the
#: other's changes closed a window corrects it (2000 gave 39 % corrections in a 2-process
#: drain of 1 M changes; docs/dataflow.md, Scaling).
SHARED_PARTITIONS_BATCH_SIZE = 500
#: How the output producers write (kafka_io.producer_config adds the servers, the delivery
#: timeout and failure-only delivery reports). The bench's baseline (bench/passthrough.py)
#: writes with the same settings, without importing Bytewax.
PRODUCER_SETTINGS: Mapping[str, object] = {
    "acks": "all",
    "enable.idempotence": True,
    # Same key -> same partition as Java clients (and any other murmur2 producer).
    "partitioner": "murmur2_random",
    # Every sink batch ends with a flush, and a flush sends at once whatever linger.ms says
    # (tests/integration/test_sink_flush.py): linger only decides whether librdkafka sends
    # parts of a batch while the batch is still being produced (at 5 ms it can, a produce
    # request every 5 ms per partition, each replicated with acks=all); at 50 ms a batch
    # leaves when it is flushed. Alternating drains of 1 M changes: 1 process +8-23 % (2
    # pairs), 2 processes 1.2-2.2x (3 pairs); bench/README.md, "Waiting for a CPU".
    "linger.ms": 50,
    # lz4 batches: the brokers write and replicate a fraction of the bytes. With two
    # dataflow processes and three brokers on two cores, drains of 1 M changes ran 21 %
    # faster (3 alternating pairs, brokers' CPU 6-8 s against 9-10; bench/README.md).
    "compression.type": "lz4",
    # A partition's share of a sink batch leaves as one request. At librdkafka's 1 MB, a
    # source batch of 10,000 changes (~4 MB of processed records, all for one partition)
    # took several, and an idempotent producer sends a partition's next request only once
    # the one in flight is acknowledged: meanwhile its broker thread polled in a busy loop
    # (strace: ~1,800 zero-timeout polls a second), taking CPU from the brokers it waited
    # on. Alternating drains of 1 M changes: CPU per million 2 processes ~29 s -> ~20 s,
    # 1 process ~18 -> ~16 (bench/README.md, "One request per partition"). The output
    # topics take batches this large (contract.OUTPUT_BATCH_BYTES), however they compress.
    "batch.size": contract.OUTPUT_BATCH_BYTES,
    "message.max.bytes": contract.OUTPUT_BATCH_BYTES,
}
#: The command that resets the dataflow's recovery state (docs/reliability.md).
RESET_COMMAND = "orderstream stack reset-dataflow"


@dataclass(frozen=True)
class FlowConfig:
    """The knobs of the dataflow's semantics (docs/dataflow.md, "Semantics")."""

    window_length: timedelta = timedelta(seconds=knobs.DEFAULT_WINDOW_SECONDS)
    allowed_lateness: timedelta = timedelta(seconds=knobs.DEFAULT_ALLOWED_LATENESS_SECONDS)
    window_retention: timedelta = timedelta(seconds=WINDOW_RETENTION_SECONDS[1])
    order_state_idle: timedelta = timedelta(seconds=ORDER_STATE_IDLE_SECONDS[1])
    watermark_idle: timedelta = timedelta(seconds=WATERMARK_IDLE_SECONDS[1])


@dataclass(frozen=True)
class DataflowSettings:
    bootstrap_servers: str
    topics: TopicNames
    flow: FlowConfig
    metrics_host: str
    metrics_port: int
    delivery_timeout: timedelta
    idle_poll: timedelta
    prefetch_kbytes: int = PREFETCH_KBYTES[1]
    batch_size: int = BATCH_SIZE[1]

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, placement: Placement | None = None
    ) -> DataflowSettings:
        """``placement``: the run's Bytewax workers (:func:`bytewax_placement`); one alone."""
        e = os.environ if env is None else env
        name, default = ORDER_STATE_IDLE_SECONDS
        idle = env_int(e, name, default, minimum=1)
        name, default = WINDOW_RETENTION_SECONDS
        retention = env_int(e, name, default, minimum=0)
        name, default = WATERMARK_IDLE_SECONDS
        watermark_idle = env_int(e, name, default, minimum=1)
        name, default = DELIVERY_TIMEOUT_SECONDS
        delivery_timeout = env_int(e, name, default, minimum=1)
        name, default = IDLE_POLL_MS
        idle_poll_ms = env_int(e, name, default, minimum=0, maximum=1000)
        name, default = PREFETCH_KBYTES
        prefetch_kbytes = env_int(e, name, default, minimum=1024, maximum=2_097_151)
        name, _ = BATCH_SIZE
        default = default_batch_size(placement or ONE_WORKER)
        batch_size = env_int(e, name, default, minimum=1, maximum=100_000)
        return cls(
            bootstrap_servers=knobs.bootstrap_servers(e),
            topics=TopicNames.from_env(e),
            flow=FlowConfig(
                window_length=timedelta(seconds=knobs.window_seconds(e)),
                allowed_lateness=timedelta(seconds=knobs.allowed_lateness_seconds(e)),
                window_retention=timedelta(seconds=retention),
                order_state_idle=timedelta(seconds=idle),
                watermark_idle=timedelta(seconds=watermark_idle),
            ),
            metrics_host=knobs.host(e),
            metrics_port=knobs.dataflow_metrics_port(e),
            delivery_timeout=timedelta(seconds=delivery_timeout),
            idle_poll=timedelta(milliseconds=idle_poll_ms),
            prefetch_kbytes=prefetch_kbytes,
            batch_size=batch_size,
        )


def default_batch_size(placement: Placement) -> int:
    """``ORDERSTREAM_DATAFLOW_BATCH_SIZE``'s default for a run of ``placement``."""
    if placement.processes == 1:
        return BATCH_SIZE[1]
    if placement.assigns_partitions:
        return MULTI_PROCESS_BATCH_SIZE
    return SHARED_PARTITIONS_BATCH_SIZE


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


def bytewax_process_count(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """How many processes the run has: the ``-a/--addresses`` list (``;``-separated) or
    ``BYTEWAX_ADDRESSES``, as ``python -m bytewax.run`` reads them; 1 without one."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("-a", "--addresses", default=None)
    known, _ = parser.parse_known_args(list(argv))
    raw = known.addresses if known.addresses is not None else env.get("BYTEWAX_ADDRESSES", "")
    return max(1, len([address for address in raw.split(";") if address.strip()]))


def bytewax_workers_per_process(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """Workers per process (``-w/--workers-per-process`` or ``BYTEWAX_WORKERS_PER_PROCESS``,
    as ``python -m bytewax.run`` reads them); 1 without one."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("-w", "--workers-per-process", type=int, default=None)
    known, _ = parser.parse_known_args(list(argv))
    if known.workers_per_process is not None:
        return max(1, int(known.workers_per_process))
    raw = env.get("BYTEWAX_WORKERS_PER_PROCESS", "").strip()
    return max(1, int(raw)) if raw.isdigit() else 1


def bytewax_placement(argv: Sequence[str], env: Mapping[str, str]) -> Placement:
    """This run's workers as ``python -m bytewax.run`` will start them."""
    return Placement(
        processes=bytewax_process_count(argv, env),
        workers_per_process=bytewax_workers_per_process(argv, env),
        process_id=bytewax_process_id(argv, env),
    )
