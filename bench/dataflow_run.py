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
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.kafka_topics import BenchTopics
from bench.procstats import ProcessUsage, tree_usage

POLL_INTERVAL_S = 0.2
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


def dataflow_command(workers: int) -> list[str]:
    return [sys.executable, "-m", "bytewax.run", "dataflows.orders", "-w", str(workers)]


@contextmanager
def running_dataflow(
    topics: BenchTopics, workers: int, log_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The dataflow process and its /metrics URL; stopped (SIGINT, then SIGKILL) on exit."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            dataflow_command(workers),
            cwd=REPO_ROOT,
            env=dataflow_env(topics, port),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process, f"http://127.0.0.1:{port}/metrics"
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def measure_drain(
    process: subprocess.Popen[bytes], metrics_url: str, expect: int, started: float
) -> DataflowResult:
    """Polls until ``expect`` records went through dedupe; reads /proc before returning."""
    first_seen, cpu_at_first = _wait_for_first_record(process, metrics_url)
    max_tracked = 0.0
    last_count, last_progress = 0.0, time.monotonic()
    while True:
        _check_alive(process)
        progress = progress_of(scrape(metrics_url))
        max_tracked = max(max_tracked, progress.tracked_orders)
        if progress.events_in >= expect and progress.through_dedupe >= expect:
            finished = time.perf_counter()
            usage = tree_usage(process.pid)
            break
        if progress.events_in > last_count:
            last_count, last_progress = progress.events_in, time.monotonic()
        elif time.monotonic() - last_progress > STALL_TIMEOUT_S:
            raise TimeoutError(f"dataflow stalled at {last_count:.0f} of {expect} records")
        time.sleep(POLL_INTERVAL_S)
    final = scrape(metrics_url)
    return _result(expect, started, first_seen, finished, cpu_at_first, usage, max_tracked, final)


def _result(
    expect: int,
    started: float,
    first_seen: float,
    finished: float,
    cpu_at_first: float,
    usage: ProcessUsage,
    max_tracked: float,
    final: dict[str, float],
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
    )


def _wait_for_first_record(
    process: subprocess.Popen[bytes], metrics_url: str
) -> tuple[float, float]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        _check_alive(process)
        try:
            if progress_of(scrape(metrics_url)).events_in > 0:
                return time.perf_counter(), tree_usage(process.pid).cpu_seconds
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
