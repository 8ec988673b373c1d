"""The benchmark's figures: derived ratios, the Markdown table, README and JSON output."""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from bench.dataflow_run import DataflowResult
from bench.fill import FillResult
from bench.passthrough import PassthroughResult
from bench.revenue_check import RevenueCheck

RESULTS_START = "<!-- dataflow_throughput results: start (written by the benchmark) -->"
RESULTS_END = "<!-- dataflow_throughput results: end -->"
MIB = 1024 * 1024


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


@dataclass(frozen=True)
class Round:
    """Events/s of one round: the baseline, the dataflow and (``--also-processes``) the
    other layout, measured one after the other on the run's input."""

    baseline: float
    dataflow: float
    other: float | None = None

    @classmethod
    def of(
        cls,
        baseline: PassthroughResult,
        dataflow: DataflowResult,
        other: DataflowResult | None = None,
    ) -> Round:
        return cls(
            baseline.records / baseline.seconds,
            dataflow.records / dataflow.seconds,
            None if other is None else other.records / other.seconds,
        )

    @property
    def ratio(self) -> float:
        return self.dataflow / self.baseline

    @property
    def scaling(self) -> float | None:
        return None if self.other is None else self.other / self.dataflow

    def summary(self) -> str:
        other = "" if self.other is None else f", other layout {self.other:,.0f} events/s"
        return (
            f"baseline {self.baseline:,.0f}, dataflow {self.dataflow:,.0f} events/s "
            f"(ratio {self.ratio:.3f}){other}"
        )


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
        f"(librdkafka {m.librdkafka}). The three brokers, MariaDB, Connect and the stack's own "
        "dataflow run on the same machine.",
        "",
        f"Fill (not measured): {run.fill.records:,} records, "
        f"{run.fill.value_bytes / MIB:.0f} MiB of values, generated and produced in "
        f"{run.fill.seconds:.1f} s.",
        "",
        _checks_line(run),
        *_other_layout_lines(run),
        *_round_lines(run),
        *_peer_lines(run),
    ]
    return "\n".join(lines)


def _round_lines(run: BenchRun) -> list[str]:
    """The rounds (``--rounds``) and their medians; nothing for a single round."""
    rounds = run.rounds
    if len(rounds) < 2:
        return []
    other = None if run.also is None else _size(run.also.processes, "process", "processes")
    order = "baseline, dataflow" + ("" if other is None else f", dataflow with {other}")
    header = ["round", "baseline events/s", "dataflow events/s", "ratio"]
    if other is not None:
        header += [f"{other}, events/s", "times the dataflow"]
    rows = [_round_cells(str(number), one) for number, one in enumerate(rounds, 1)]
    median = statistics.median
    medians = [
        "**median**",
        f"{median(one.baseline for one in rounds):,.0f}",
        f"{median(one.dataflow for one in rounds):,.0f}",
        f"**{median(one.ratio for one in rounds):.3f}**",
    ]
    if other is not None:
        medians += [
            f"{median(one.other or 0.0 for one in rounds):,.0f}",
            f"**{median(one.scaling or 0.0 for one in rounds):.2f}**",
        ]
    return [
        "",
        f"Rounds on the same input (`--rounds {len(rounds)}`; each round: {order}, one after "
        "the other, into fresh output topics; round 1 is the table above, later rounds skip "
        "the revenue check):",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---:|" * len(header),
        *("| " + " | ".join(cells) + " |" for cells in [*rows, medians]),
    ]


def _round_cells(name: str, one: Round) -> list[str]:
    cells = [name, f"{one.baseline:,.0f}", f"{one.dataflow:,.0f}", f"{one.ratio:.3f}"]
    if one.other is not None and one.scaling is not None:
        cells += [f"{one.other:,.0f}", f"{one.scaling:.2f}"]
    return cells


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
        f"{d.cpu_seconds / d.records * 1e6:.1f} CPU s per million; {revisions}.",
    ]


PEER_TITLES = {
    "kstreams": "Kafka Streams 4.1.1 (RocksDB, at-least-once, 1 thread; dedupe, revenue, "
    "transitions)",
    "quix": "Quix Streams (own venv; dedupe, revenue)",
}


def _peer_lines(run: BenchRun) -> list[str]:
    if not run.peers:
        return []
    f = run.figures
    lines = [
        "",
        "Peers on the same topic in the same run (bench/peer_apps.py; drain time until every "
        "record went through every stage, repartition topics included):",
        "",
        "| peer | drain s | events/s | peer / baseline | dataflow / peer | CPU s per million "
        "| peak RSS MiB | window inputs dropped as late |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, peer in run.peers.items():
        rate = peer.records / peer.seconds
        lines.append(
            f"| {PEER_TITLES.get(name, name)} | {peer.seconds:.1f} | {rate:,.0f} "
            f"| {rate / f.baseline_events_per_s:.3f} | {f.dataflow_events_per_s / rate:.3f} "
            f"| {peer.cpu_seconds / peer.records * 1e6:.1f} | {peer.peak_rss_bytes / MIB:.0f} "
            f"| {_dropped(peer)} |"
        )
    return lines


def _dropped(peer: PassthroughResult) -> str:
    if peer.late_dropped is None or not peer.window_inputs:
        return "not reported"
    share = peer.late_dropped / peer.window_inputs
    return f"{peer.late_dropped:,} of {peer.window_inputs:,} ({share:.1%})"


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
