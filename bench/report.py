"""The benchmark's figures: derived ratios, the Markdown table, README and JSON output."""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from bench.dataflow_run import DataflowResult
from bench.fill import FillResult
from bench.passthrough import PassthroughResult
from bench.procstats import MIB, ThreadShares
from bench.report_peers import peer_lines
from bench.revenue_check import RevenueCheck
from bench.rounds import Round, round_lines

RESULTS_START = "<!-- dataflow_throughput results: start (written by the benchmark) -->"
RESULTS_END = "<!-- dataflow_throughput results: end -->"


@dataclass(frozen=True)
class Machine:
    nproc: int
    cpu_model: str
    memory_gib: float
    kernel: str
    python: str
    bytewax: str
    confluent_kafka: str
    librdkafka: str


@dataclass(frozen=True)
class Figures:
    """What the issue asks for, derived from the raw results."""

    events: int
    distinct_changes: int
    duplicates: int
    baseline_events_per_s: float
    dataflow_events_per_s: float
    ratio: float  # dataflow / baseline
    baseline_cpu_s_per_million: float
    dataflow_cpu_s_per_million: float
    baseline_peak_rss_mib: float
    dataflow_peak_rss_mib: float
    tracked_orders: int
    rss_bytes_per_tracked_order: float


@dataclass(frozen=True)
class BenchRun:
    command: str
    date: str
    seed: int
    plan_rate: float
    duplicate_rate: float
    topic_run: str
    machine: Machine
    fill: FillResult
    baseline: PassthroughResult
    dataflow: DataflowResult
    figures: Figures
    revenue_check: RevenueCheck | None
    processed_records: int
    #: Peer apps that drained the same topic in the same run (bench/peer_apps.py), by name.
    peers: dict[str, PassthroughResult] = field(default_factory=dict)
    processes: int = 1
    workers: int = 1  # per process
    #: The same input drained again in the same run with another number of processes.
    also: OtherLayout | None = None
    #: Every round's rates (``--rounds``); the first is the run's main measurements.
    rounds: list[Round] = field(default_factory=list)
    #: The stack's components paused while the run measured (bench/quiet_stack.py).
    paused: list[str] = field(default_factory=list)
    #: Topics of other bench runs on the brokers during the run (kafka_topics.other_runs).
    other_runs_topics: int = 0


@dataclass(frozen=True)
class OtherLayout:
    """A second drain of the run's input (``--also-processes``), into its own output topics."""

    processes: int
    dataflow: DataflowResult
    revenue_check: RevenueCheck | None


def machine_facts() -> Machine:
    from confluent_kafka import libversion, version

    return Machine(
        nproc=os.cpu_count() or 0,
        cpu_model=_cpu_model(),
        memory_gib=round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        kernel=platform.release(),
        python=platform.python_version(),
        bytewax=metadata.version("bytewax"),
        confluent_kafka=version()[0],
        librdkafka=libversion()[0],
    )


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def figures(
    distinct: int, duplicates: int, baseline: PassthroughResult, dataflow: DataflowResult
) -> Figures:
    events = distinct + duplicates
    baseline_rate = baseline.records / baseline.seconds
    dataflow_rate = dataflow.records / dataflow.seconds
    tracked = dataflow.max_tracked_orders
    return Figures(
        events=events,
        distinct_changes=distinct,
        duplicates=duplicates,
        baseline_events_per_s=baseline_rate,
        dataflow_events_per_s=dataflow_rate,
        ratio=dataflow_rate / baseline_rate,
        baseline_cpu_s_per_million=baseline.cpu_seconds / events * 1e6,
        dataflow_cpu_s_per_million=dataflow.cpu_seconds / events * 1e6,
        baseline_peak_rss_mib=baseline.peak_rss_bytes / MIB,
        dataflow_peak_rss_mib=dataflow.peak_rss_bytes / MIB,
        tracked_orders=tracked,
        rss_bytes_per_tracked_order=dataflow.peak_rss_bytes / tracked if tracked else 0.0,
    )


def results_markdown(run: BenchRun) -> str:
    f, b, d, m = run.figures, run.baseline, run.dataflow, run.machine
    rows = [
        (
            "events read (changes + re-deliveries)",
            f"{f.events:,} ({f.distinct_changes:,} + {f.duplicates:,})",
            "",
        ),
        (
            "drain time, s",
            f"{b.seconds:.1f}",
            f"{d.seconds:.1f} ({d.seconds_with_startup:.1f} with start-up)",
        ),
        (
            "**events/s**",
            f"**{f.baseline_events_per_s:,.0f}**",
            f"**{f.dataflow_events_per_s:,.0f}**",
        ),
        ("**ratio dataflow / baseline**", "", f"**{f.ratio:.3f}**"),
        (
            "CPU s per million events",
            f"{f.baseline_cpu_s_per_million:.1f}",
            f"{f.dataflow_cpu_s_per_million:.1f}",
        ),
        (
            "peak RSS (VmHWM), MiB",
            f"{f.baseline_peak_rss_mib:.0f}",
            f"{f.dataflow_peak_rss_mib:.0f}",
        ),
        (
            "busiest thread: on a CPU / runnable but waiting for one, share of the drain",
            thread_shares(_baseline_shares(b)),
            thread_shares(d.busiest_threads),
        ),
        ("tracked orders (max)", "", f"{f.tracked_orders:,}"),
        ("peak RSS per tracked order", "", f"{f.rss_bytes_per_tracked_order:,.0f} B"),
    ]
    lines = [
        f"| | baseline (consume → orjson → produce) | dataflow (`dataflows.orders`, "
        f"{_size(run.processes, 'process', 'processes')}, {_size(run.workers, 'worker')} each) |",
        "|---|---:|---:|",
        *(f"| {name} | {base} | {flow} |" for name, base, flow in rows),
        "",
        f"Command: `{run.command}` — {run.date}; seed {run.seed}, {run.plan_rate:g} changes "
        f"per second of event time, {run.duplicate_rate:.0%} re-delivered.",
        "",
        f"Machine: {m.nproc} cores ({m.cpu_model}), {m.memory_gib} GiB, Linux {m.kernel}; "
        f"Python {m.python}, bytewax {m.bytewax}, confluent-kafka {m.confluent_kafka} "
        f"(librdkafka {m.librdkafka}). {_stack_line(run.paused)}"
        f"{_leftovers_line(run.other_runs_topics)}",
        "",
        f"Fill (not measured): {run.fill.records:,} records, "
        f"{run.fill.value_bytes / MIB:.0f} MiB of values, generated and produced in "
        f"{run.fill.seconds:.1f} s.",
        "",
        _checks_line(run),
        *_other_layout_lines(run),
        *round_lines(run.rounds, _other_layout(run)),
        *peer_lines(
            run.peers, f.baseline_events_per_s, f.dataflow_events_per_s, len(run.rounds)
        ),
    ]
    return "\n".join(lines)


def _stack_line(paused: list[str]) -> str:
    if not paused:
        return "The native stack runs on the same machine."
    return (
        "The native stack's brokers, MariaDB and monitoring run on the same machine; its "
        f"{', '.join(paused)} did not run during the measurement (paused by the bench or "
        "stopped before it: bench/quiet_stack.py)."
    )


def _leftovers_line(count: int) -> str:
    if not count:
        return ""
    return (
        f" **The brokers also held {count} topics of other bench runs**, which slow them and "
        "every drain: these figures are not comparable with a clean run's."
    )


def thread_shares(shares: list[ThreadShares]) -> str:
    """``on a CPU / waiting`` per process, e.g. ``64% / 30%, 45% / 24%``."""
    if not shares:
        return "not measured"
    return ", ".join(f"{s.running:.0%} / {s.waiting:.0%}" for s in shares)


def _baseline_shares(baseline: PassthroughResult) -> list[ThreadShares]:
    running, waiting = baseline.busiest_running, baseline.busiest_waiting
    if running is None or waiting is None:
        return []
    return [ThreadShares(running, waiting)]


def _other_layout(run: BenchRun) -> str | None:
    return None if run.also is None else _size(run.also.processes, "process", "processes")


def _other_layout_lines(run: BenchRun) -> list[str]:
    also = run.also
    if also is None:
        return []
    f, d = run.figures, also.dataflow
    rate = d.records / d.seconds
    check = also.revenue_check
    revisions = (
        "revenue check skipped"
        if check is None
        else (
            f"revenue {'all equal' if check.ok else 'MISMATCH'}; aggregate records with "
            f"revision > 1: {check.corrections + check.transition_corrections} of "
            f"{check.records_read + check.transition_records}"
        )
    )
    first = _size(run.processes, "process", "processes")
    return [
        "",
        f"Same input, same run, {_size(also.processes, 'process', 'processes')} of "
        f"{_size(run.workers, 'worker')} (`--also-processes`, own output topics): "
        f"**{rate:,.0f} events/s**, {rate / f.baseline_events_per_s:.3f} of the baseline, "
        f"**{rate / f.dataflow_events_per_s:.2f} times the {first}**; "
        f"{d.cpu_seconds / d.records * 1e6:.1f} CPU s per million; busiest thread of each "
        f"process on a CPU / waiting for one: {thread_shares(d.busiest_threads)}; {revisions}.",
    ]


def _checks_line(run: BenchRun) -> str:
    processed = (
        f"processed-orders got {run.processed_records:,} records for "
        f"{run.figures.distinct_changes:,} distinct changes"
    )
    check = run.revenue_check
    if check is None:
        return f"Checks: {processed}; revenue check skipped."
    verdict = (
        "all equal"
        if check.ok
        else (
            f"MISMATCH: {len(check.missing)} missing, {len(check.differing)} differing, "
            f"{len(check.unexpected)} unexpected"
        )
    )
    return (
        f"Checks: {processed}; last revenue record per window vs. the change log: "
        f"{check.matching_windows}/{check.expected_windows} windows equal ({verdict}; "
        f"highest revision {check.max_revision}, {check.records_read} revenue records, "
        f"{check.corrections} of them corrections); order-status-transitions-1m: "
        f"{check.transition_records} records, {check.transition_corrections} of them "
        f"corrections. Aggregate records with revision > 1: "
        f"{check.corrections + check.transition_corrections} of "
        f"{check.records_read + check.transition_records} "
        f"({check.aggregate_corrections_share:.2%}; with no late input each is spurious)."
    )


def write_readme(
    readme: Path, block: str, start: str = RESULTS_START, end: str = RESULTS_END
) -> None:
    """Replaces the block between ``start`` and ``end`` in ``readme`` (appends one if it
    has none)."""
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    generated = f"{start}\n{block}\n{end}"
    if start in text and end in text:
        head, _, rest = text.partition(start)
        _, _, tail = rest.partition(end)
        text = head + generated + tail
    else:
        text = text.rstrip("\n") + "\n\n" + generated + "\n"
    readme.write_text(text)


def write_json(path: Path, run: BenchRun) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(_jsonable(run), option=orjson.OPT_INDENT_2) + b"\n")


def _jsonable(run: BenchRun) -> dict[str, Any]:
    data = asdict(run)
    check = data.get("revenue_check")
    if check is not None:
        for name in ("missing", "differing", "unexpected"):
            check[name] = check[name][:20]  # a sample is enough
    return data


def _size(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"
