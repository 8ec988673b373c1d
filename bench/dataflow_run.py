"""Runs ``python -m bytewax.run dataflows.orders`` on the bench topics and measures its drain.

The dataflow starts without recovery (a fresh run from the beginning of the input). Its
/metrics endpoint is polled until every input record went through dedupe; CPU time and peak
RSS come from /proc before the process is stopped.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench.kafka_topics import BenchTopics
from bench.procstats import (
    ProcessUsage,
    Schedule,
    ThreadShares,
    busiest_thread,
    thread_schedule,
    tree_usage,
)

#: How often the drain polls the dataflow's /metrics. Each scrape renders every metric of the
#: process (Bytewax's own included): at 0.2 s the scrapes took ~5 % of the dataflow's CPU
#: (py-spy, 2026-12-03), which a 15-s Prometheus scrape never would.
POLL_INTERVAL_S = 0.5
START_TIMEOUT_S = 120.0
STALL_TIMEOUT_S = 60.0
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class DataflowResult:
    records: int
    seconds: float  # first record counted in -> last record through dedupe
    seconds_with_startup: float  # process start -> last record through dedupe
    cpu_seconds: float  # over the drain interval
    total_cpu_seconds: float  # including start-up
    peak_rss_bytes: int
    max_tracked_orders: int
    processes: int
    metrics: dict[str, float]  # the final scrape, for the record
    #: Each process's busiest thread (its Bytewax worker) over the drain interval.
    busiest_threads: list[ThreadShares] = field(default_factory=list)


@dataclass(frozen=True)
class Progress:
    events_in: float
    through_dedupe: float  # emitted + duplicates dropped + dead letters + tombstones
    tracked_orders: float


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def dataflow_env(topics: BenchTopics, metrics_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "ORDERSTREAM_TOPIC_CDC": topics.cdc.name,
        "ORDERSTREAM_TOPIC_PROCESSED": topics.processed.name,
        "ORDERSTREAM_TOPIC_REVENUE": topics.revenue.name,
        "ORDERSTREAM_TOPIC_TRANSITIONS": topics.transitions.name,
        "ORDERSTREAM_TOPIC_DLQ": topics.dlq.name,
        "ORDERSTREAM_DATAFLOW_METRICS_PORT": str(metrics_port),
        "ORDERSTREAM_HOST": "127.0.0.1",
    }


def dataflow_command(
    workers: int, process_id: int = 0, addresses: list[str] | None = None
) -> list[str]:
    command = [sys.executable, "-m", "bytewax.run", "dataflows.orders", "-w", str(workers)]
    if addresses:
        command += ["-i", str(process_id), "-a", ";".join(addresses)]
    return command


@dataclass(frozen=True)
class Dataflow:
    """The dataflow's processes (one, or a Bytewax cluster) and their /metrics URLs."""

    processes: list[subprocess.Popen[bytes]]
    metrics_urls: list[str]

    def scrape(self) -> dict[str, float]:
        """Every series summed over the processes."""
        summed: dict[str, float] = {}
        for url in self.metrics_urls:
            for name, value in scrape(url).items():
                summed[name] = summed.get(name, 0.0) + value
        return summed

    def usage(self) -> ProcessUsage:
        usages = [tree_usage(process.pid) for process in self.processes]
        return ProcessUsage(
            cpu_seconds=sum(u.cpu_seconds for u in usages),
            peak_rss_bytes=sum(u.peak_rss_bytes for u in usages),
            processes=sum(u.processes for u in usages),
        )

    def schedules(self) -> list[Schedule]:
        return [thread_schedule(process.pid) for process in self.processes]

    def check_alive(self) -> None:
        for process in self.processes:
            _check_alive(process)


@contextmanager
def running_dataflow(
    topics: BenchTopics, workers: int, log_dir: Path, processes: int = 1
) -> Iterator[Dataflow]:
    """The dataflow, ``processes`` of ``workers`` each (a Bytewax cluster when more than one;
    process ``i`` serves /metrics on the base port + ``i``); stopped (SIGINT, then SIGKILL)
    on exit. Logs: ``dataflow.log``, or ``dataflow-<i>.log`` per process."""
    port = free_ports(processes)
    addresses = [f"127.0.0.1:{free_port()}" for _ in range(processes)] if processes > 1 else None
    started: list[subprocess.Popen[bytes]] = []
    try:
        for index in range(processes):
            name = "dataflow.log" if processes == 1 else f"dataflow-{index}.log"
            with (log_dir / name).open("wb") as log:
                started.append(
                    subprocess.Popen(
                        dataflow_command(workers, index, addresses),
                        cwd=REPO_ROOT,
                        env=dataflow_env(topics, port),
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        urls = [f"http://127.0.0.1:{port + i}/metrics" for i in range(processes)]
        yield Dataflow(started, urls)
    finally:
        # All at once: a cluster process whose peer exits first panics on its send thread.
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in started:
            _reap(process)


def free_ports(count: int) -> int:
    """A port such that it and the ``count - 1`` ports after it are free (now)."""
    for _ in range(100):
        base = free_port()
        if base + count <= 65536 and all(_free(base + i) for i in range(1, count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports found")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _reap(process: subprocess.Popen[bytes]) -> None:
    """Waits for a process sent SIGINT; kills it after 20 s."""
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def measure_drain(dataflow: Dataflow, expect: int, started: float) -> DataflowResult:
    """Polls until ``expect`` records went through dedupe; reads /proc before returning."""
    first_seen, cpu_at_first = _wait_for_first_record(dataflow)
    schedules_at_first = dataflow.schedules()
    max_tracked = 0.0
    last_count, last_progress = 0.0, time.monotonic()
    while True:
        dataflow.check_alive()
        progress = progress_of(dataflow.scrape())
        max_tracked = max(max_tracked, progress.tracked_orders)
        if progress.events_in >= expect and progress.through_dedupe >= expect:
            finished = time.perf_counter()
            usage = dataflow.usage()
            busiest = [
                busiest_thread(before, after, finished - first_seen)
                for before, after in zip(schedules_at_first, dataflow.schedules(), strict=True)
            ]
            break
        if progress.events_in > last_count:
            last_count, last_progress = progress.events_in, time.monotonic()
        elif time.monotonic() - last_progress > STALL_TIMEOUT_S:
            raise TimeoutError(f"dataflow stalled at {last_count:.0f} of {expect} records")
        time.sleep(POLL_INTERVAL_S)
    final = dataflow.scrape()
    return _result(
        expect, started, first_seen, finished, cpu_at_first, usage, max_tracked, final, busiest
    )


def _result(
    expect: int,
    started: float,
    first_seen: float,
    finished: float,
    cpu_at_first: float,
    usage: ProcessUsage,
    max_tracked: float,
    final: dict[str, float],
    busiest: list[ThreadShares],
) -> DataflowResult:
    return DataflowResult(
        records=expect,
        seconds=finished - first_seen,
        seconds_with_startup=finished - started,
        cpu_seconds=usage.cpu_seconds - cpu_at_first,
        total_cpu_seconds=usage.cpu_seconds,
        peak_rss_bytes=usage.peak_rss_bytes,
        max_tracked_orders=int(max(max_tracked, progress_of(final).tracked_orders)),
        processes=usage.processes,
        metrics=final,
        busiest_threads=busiest,
    )


def _wait_for_first_record(dataflow: Dataflow) -> tuple[float, float]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        dataflow.check_alive()
        try:
            if progress_of(dataflow.scrape()).events_in > 0:
                return time.perf_counter(), dataflow.usage().cpu_seconds
        except OSError:
            pass  # the endpoint is not up yet
        time.sleep(POLL_INTERVAL_S / 4)
    raise TimeoutError(f"the dataflow read nothing within {START_TIMEOUT_S:.0f} s")


def _check_alive(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        raise RuntimeError(f"the dataflow exited with status {process.returncode}; see its log")


def wait_until(condition: Callable[[], bool], timeout_s: float, interval_s: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval_s)
    return condition()


# --- /metrics ----------------------------------------------------------------------------


def scrape(metrics_url: str) -> dict[str, float]:
    """``{series: value}`` from /metrics; series like ``orders_processed_total{op="c"}``."""
    response = requests.get(metrics_url, timeout=5)
    response.raise_for_status()
    return parse_metrics(response.text)


def parse_metrics(text: str) -> dict[str, float]:
    series: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        series[name] = float(value)
    return series


def total(series: Mapping[str, float], metric: str) -> float:
    """Sum over all label sets of ``metric``."""
    return sum(v for k, v in series.items() if k == metric or k.startswith(metric + "{"))


def progress_of(series: Mapping[str, float]) -> Progress:
    return Progress(
        events_in=total(series, "orders_events_in_total"),
        through_dedupe=total(series, "orders_processed_total")
        + total(series, "orders_duplicates_dropped_total")
        + total(series, "orders_tombstones_total")
        + total(series, "orders_dlq_total"),
        tracked_orders=total(series, "orders_tracked_orders"),
    )
