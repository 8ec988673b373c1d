"""The baseline: consume -> orjson.loads -> produce orjson.dumps, nothing else.

``python -m bench.passthrough --source T --sink T2 --expect N`` reads all partitions of T
from the beginning (assigned, no group), re-serializes every value and produces it to T2
with the key it had, until N records are read; then flushes and prints one JSON object with
the measurement (wall time and CPU from the first record read to the last produce confirmed).
The producer writes with the dataflow's settings (``dataflows.settings.PRODUCER_SETTINGS``),
so the difference between the two runs is the dataflow's own work.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import orjson
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)

from bench.procstats import Schedule, busiest_thread, peak_rss_bytes, thread_schedule
from dataflows.settings import PRODUCER_SETTINGS
from orderstream.settings import Settings

#: Records per consume() call, as the baseline has read since the first run (the dataflow reads
#: up to ORDERSTREAM_DATAFLOW_BATCH_SIZE, 10,000, per partition and call). 10,000 drains no
#: faster: 115.0k, 121.2k, 104.2k events/s against 112.9k, 115.3k, 119.5k (alternating,
#: 1,050,000 records, 2026-12-05).
BATCH_SIZE = 500
POLL_TIMEOUT_S = 0.1
STALL_TIMEOUT_S = 60.0
DELIVERY_TIMEOUT = timedelta(seconds=120)


@dataclass(frozen=True)
class PassthroughResult:
    records: int
    seconds: float  # first record read -> last produce confirmed
    cpu_seconds: float  # process CPU (all threads) over the same interval
    total_cpu_seconds: float  # including start-up
    peak_rss_bytes: int
    #: Peers only: values that reached their windows' input, and those dropped there as
    #: later than the grace (None: not reported).
    window_inputs: int | None = None
    late_dropped: int | None = None
    #: The busiest thread's shares of the drain on a CPU and waiting for one
    #: (procstats.ThreadShares; None: not measured, as for the peers).
    busiest_running: float | None = None
    busiest_waiting: float | None = None


def consumer_config(bootstrap_servers: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap_servers,
        "group.id": "bench-passthrough-unused",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "error",
        "enable.partition.eof": False,
    }


def producer_config(bootstrap_servers: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap_servers,
        **PRODUCER_SETTINGS,
        "delivery.timeout.ms": int(DELIVERY_TIMEOUT.total_seconds() * 1000),
    }


def pass_through(bootstrap_servers: str, source: str, sink: str, expect: int) -> PassthroughResult:
    consumer = Consumer(consumer_config(bootstrap_servers))
    producer = Producer(producer_config(bootstrap_servers))
    partitions = consumer.list_topics(source, timeout=30).topics[source].partitions
    consumer.assign([TopicPartition(source, p, OFFSET_BEGINNING) for p in sorted(partitions)])
    failures: list[str] = []

    def on_delivery(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failures.append(error.str())

    read = 0
    started_wall = started_cpu = 0.0
    schedule_at_start: Schedule = {}
    last_progress = time.monotonic()
    while read < expect:
        messages = consumer.consume(BATCH_SIZE, POLL_TIMEOUT_S)
        if not messages:
            if time.monotonic() - last_progress > STALL_TIMEOUT_S:
                raise TimeoutError(f"read {read} of {expect} records, then nothing for 60 s")
            continue
        if read == 0:
            started_wall, started_cpu = time.perf_counter(), time.process_time()
            schedule_at_start = thread_schedule(os.getpid())
        for message in messages:
            _forward(producer, sink, message, on_delivery)
        read += len(messages)
        last_progress = time.monotonic()
    remaining = producer.flush(DELIVERY_TIMEOUT.total_seconds() + 5)
    seconds = time.perf_counter() - started_wall
    cpu = time.process_time() - started_cpu
    busiest = busiest_thread(schedule_at_start, thread_schedule(os.getpid()), seconds)
    consumer.close()
    if failures or remaining:
        raise RuntimeError(f"{len(failures)} failed, {remaining} unconfirmed: {failures[:3]}")
    return PassthroughResult(
        records=read,
        seconds=seconds,
        cpu_seconds=cpu,
        total_cpu_seconds=time.process_time(),
        peak_rss_bytes=peak_rss_bytes(os.getpid()),
        busiest_running=busiest.running,
        busiest_waiting=busiest.waiting,
    )


def _forward(producer: Producer, sink: str, message: Message, on_delivery: object) -> None:
    error = message.error()
    if error is not None:
        raise RuntimeError(f"consume failed: {error.str()}")
    value = orjson.dumps(orjson.loads(message.value()))
    while True:
        try:
            producer.produce(sink, key=message.key(), value=value, on_delivery=on_delivery)
        except BufferError:
            producer.poll(0.05)
        else:
            producer.poll(0)
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.passthrough", description=__doc__)
    parser.add_argument("--source", required=True)
    parser.add_argument("--sink", required=True)
    parser.add_argument("--expect", type=int, required=True, help="records to read")
    args = parser.parse_args(argv)
    bootstrap = Settings.from_env().bootstrap_servers
    result = pass_through(bootstrap, args.source, args.sink, args.expect)
    sys.stdout.write(orjson.dumps(asdict(result)).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
