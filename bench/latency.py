"""End-to-end latency of the running stack, per stage, under background load.

    python -m bench.latency [--rates 0,1000,2000] [--duration 60] [--probe-interval 0.05]
                            [--warmup 10] [--write]

For each rate: ``orderstream loadgen --rate R`` writes background traffic through MariaDB
(none for 0); after ``--warmup`` seconds a probe commits one order every
``--probe-interval`` seconds for ``--duration`` seconds, and two consumers in the same
process note when each probe order arrives on ``mysql-orders`` and on ``processed-orders``
(bench/latency_probe.py). Stages: commit → mysql-orders (MariaDB binlog, Debezium, Connect's
producer), mysql-orders → processed-orders (the dataflow), commit → processed-orders.
The dataflow's latency histograms are scraped before and after each probe run, and their
p50 is printed next to the probe's. ``--write`` puts the table into bench/README.md and
bench/results/latency.json.

Needs the running native stack (``scripts/start.sh``): the probe measures the stack's own
Connect workers and supervised dataflow. Probe orders are deleted at the end.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.dataflow_run import scrape
from bench.latency_probe import (
    Prober,
    TopicTail,
    cdc_key_id,
    probe_ids,
    processed_key_id,
)
from bench.latency_stats import Summary, bucket_delta, histogram_quantile
from bench.report import Machine, machine_facts, write_readme
from orderstream.settings import Settings

BENCH_DIR = Path(__file__).resolve().parent
README = BENCH_DIR / "README.md"
RESULTS_JSON = BENCH_DIR / "results" / "latency.json"
RESULTS_START = "<!-- latency results: start (written by bench.latency --write) -->"
RESULTS_END = "<!-- latency results: end -->"
#: The dataflow's histograms compared with the probe (missing ones are skipped).
HISTOGRAMS = (
    "orders_e2e_latency_seconds",
    "orders_capture_latency_seconds",
    "orders_dataflow_latency_seconds",
)
ARRIVAL_TIMEOUT_S = 30.0
STAGES = ("commit → mysql-orders", "mysql-orders → processed-orders", "commit → processed-orders")


@dataclass(frozen=True)
class RateResult:
    target_rate: float
    loadgen_summary: str  # the loadgen's own summary line ("" at rate 0)
    probes: int
    missing_cdc: int
    missing_processed: int
    late_probe_starts: int
    cpu_busy: float  # share of all cores busy during the probe run (whole machine)
    stages: dict[str, Summary | None]
    metric_p50_ms: dict[str, float | None]  # dataflow histogram p50 over the probe run
    #: per probe: (commit returned, on mysql-orders, on processed-orders), epoch seconds
    samples: list[tuple[float, float | None, float | None]]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.latency",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rates", default="0,1000", help="background loads, changes/s")
    parser.add_argument("--duration", type=float, default=60.0, help="probe seconds per rate")
    parser.add_argument("--probe-interval", type=float, default=0.05, help="seconds")
    parser.add_argument("--warmup", type=float, default=10.0, help="load seconds before probing")
    parser.add_argument("--write", action="store_true", help="update bench/README.md and JSON")
    parser.add_argument(
        "--samples", type=Path, default=None,
        help="also write every probe's commit and arrival times (JSON lines) to this file",
    )
    args = parser.parse_args(argv)
    try:
        args.rate_list = [float(r) for r in args.rates.split(",") if r.strip()]
    except ValueError:
        parser.error(f"--rates: {args.rates!r} is not a comma-separated list of numbers")
    if not args.rate_list or any(r < 0 for r in args.rate_list):
        parser.error("--rates needs at least one rate, none negative")
    if args.duration <= 0 or args.probe_interval <= 0 or args.warmup < 0:
        parser.error("--duration and --probe-interval must be > 0, --warmup >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.from_env()
    metrics_url = settings.dataflow_metrics_url
    results = []
    for rate in args.rate_list:
        print(f"bench.latency: {rate:g} changes/s ...", flush=True)
        result = measure_rate(settings, metrics_url, rate, args)
        results.append(result)
        print(rate_markdown(result), flush=True)
    command = "python -m bench.latency " + shlex.join(argv if argv is not None else sys.argv[1:])
    block = results_markdown(results, command, machine_facts())
    print(block)
    if args.write:
        write_readme(README, block, RESULTS_START, RESULTS_END)
        RESULTS_JSON.parent.mkdir(parents=True, exist_ok=True)
        data: dict[str, Any] = {"command": command, "machine": asdict(machine_facts())}
        data["rates"] = [{**asdict(r), "samples": len(r.samples)} for r in results]
        RESULTS_JSON.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    if args.samples is not None:
        with args.samples.open("wb") as out:
            for r in results:
                for sample in r.samples:
                    out.write(orjson.dumps({"rate": r.target_rate, "probe": sample}) + b"\n")
    return 0


def measure_rate(
    settings: Settings, metrics_url: str, rate: float, args: argparse.Namespace
) -> RateResult:
    count = int(args.duration / args.probe_interval)
    ids = probe_ids(count)
    wanted = set(ids)
    with tempfile.TemporaryFile() as log:
        loadgen = _start_loadgen(rate, args.warmup + args.duration + ARRIVAL_TIMEOUT_S, log)
        try:
            time.sleep(args.warmup)  # let the load reach its rate before probing
            _check_loadgen(loadgen, log)
            cdc = TopicTail(settings, settings.topic_cdc, wanted, cdc_key_id)
            processed = TopicTail(settings, settings.topic_processed, wanted, processed_key_id)
            prober = Prober(settings, ids, args.probe_interval)
            cdc.start()
            processed.start()
            before = scrape(metrics_url)
            cpu_before = _cpu_times()
            prober.run(threading.Event())
            _wait_for(lambda: len(processed.arrivals.at) >= len(prober.committed_at))
            cpu_busy = _busy_share(cpu_before, _cpu_times())
            after = scrape(metrics_url)
            cdc.stop()
            processed.stop()
            for tail in (cdc, processed):
                if tail.error is not None:
                    raise SystemExit(f"bench.latency: consumer of {tail.arrivals.topic} failed: "
                                     f"{tail.error}")
        finally:
            summary = _stop_loadgen(loadgen, log)
    prober.delete_probes()
    prober.close()
    committed = prober.committed_at
    cdc_at, out_at = cdc.arrivals.at, processed.arrivals.at
    stages = {
        STAGES[0]: _stage(committed, cdc_at),
        STAGES[1]: _stage(cdc_at, out_at),
        STAGES[2]: _stage(committed, out_at),
    }
    return RateResult(
        target_rate=rate,
        loadgen_summary=summary,
        probes=len(committed),
        missing_cdc=len(set(committed) - set(cdc_at)),
        missing_processed=len(set(committed) - set(out_at)),
        late_probe_starts=prober.late_starts,
        cpu_busy=cpu_busy,
        stages=stages,
        metric_p50_ms={name: _metric_p50(name, before, after) for name in HISTOGRAMS},
        samples=[(at, cdc_at.get(i), out_at.get(i)) for i, at in committed.items()],
    )


def _stage(start: dict[int, float], end: dict[int, float]) -> Summary | None:
    return Summary.of([(end[i] - start[i]) * 1000 for i in start if i in end])


def _metric_p50(name: str, before: dict[str, float], after: dict[str, float]) -> float | None:
    prefix = name + '_bucket{le="'

    def buckets(series: dict[str, float]) -> dict[float, float]:
        return {float(k[len(prefix) : -2]): v for k, v in series.items() if k.startswith(prefix)}

    later = buckets(after)
    if not later:
        return None
    p50 = histogram_quantile(0.5, bucket_delta(later, buckets(before)))
    return None if p50 is None else p50 * 1000


def _wait_for(done: Any) -> None:
    deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
    while not done() and time.monotonic() < deadline:
        time.sleep(0.1)


# --- background load ---------------------------------------------------------------------


def _start_loadgen(rate: float, duration: float, log: Any) -> subprocess.Popen[bytes] | None:
    if rate <= 0:
        return None
    command = [sys.executable, "-m", "orderstream", "loadgen", "--rate", f"{rate:g}",
               "--duration", f"{duration:g}", "--seed", "1"]
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def _check_loadgen(loadgen: subprocess.Popen[bytes] | None, log: Any) -> None:
    if loadgen is not None and loadgen.poll() is not None:
        log.seek(0)
        raise SystemExit(f"bench.latency: the loadgen stopped early:\n{log.read().decode()}")


def _stop_loadgen(loadgen: subprocess.Popen[bytes] | None, log: Any) -> str:
    if loadgen is None:
        return ""
    loadgen.terminate()  # SIGTERM: stops after the transaction in flight
    loadgen.wait(timeout=60)
    log.seek(0)
    lines = [ln for ln in log.read().decode().splitlines() if ln.startswith("loadgen: wrote")]
    return lines[-1] if lines else "(no summary)"


def _cpu_times() -> tuple[float, float]:
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields), idle


def _busy_share(before: tuple[float, float], after: tuple[float, float]) -> float:
    total, idle = after[0] - before[0], after[1] - before[1]
    return 0.0 if total <= 0 else 1 - idle / total


# --- report ------------------------------------------------------------------------------


def _achieved(result: RateResult) -> str:
    if result.target_rate <= 0:
        return "idle"
    summary = result.loadgen_summary
    marker = " changes/s"
    if "= " in summary and marker in summary:
        achieved = summary.split("= ", 1)[1].split(marker, 1)[0]
        return f"{result.target_rate:,.0f} (achieved {float(achieved):,.0f})"
    return f"{result.target_rate:,.0f}"


def rate_markdown(result: RateResult) -> str:
    rows = []
    for stage, s in result.stages.items():
        if s is None:
            rows.append(f"| {_achieved(result)} | {stage} | 0 | | | | |")
            continue
        rows.append(
            f"| {_achieved(result)} | {stage} | {s.count} | {s.p50:.0f} | {s.p90:.0f} "
            f"| {s.p99:.0f} | {s.max:.0f} |"
        )
    return "\n".join(rows)


def results_markdown(results: list[RateResult], command: str, machine: Machine) -> str:
    head = (
        "| load, changes/s | stage | probes | p50 ms | p90 ms | p99 ms | max ms |\n"
        "|---|---|---:|---:|---:|---:|---:|"
    )
    table = head + "\n" + "\n".join(rate_markdown(r) for r in results)
    metric_rows = []
    for r in results:
        probe = r.stages[STAGES[2]]
        cells = " | ".join(
            "—" if r.metric_p50_ms.get(n) is None else f"{r.metric_p50_ms[n]:.0f}"
            for n in HISTOGRAMS
        )
        probe_p50 = "—" if probe is None else f"{probe.p50:.0f}"
        metric_rows.append(f"| {_achieved(r)} | {probe_p50} | {cells} |")
    metrics = (
        "| load, changes/s | probe commit → processed-orders p50 ms | "
        + " | ".join(f"`{n}` p50 ms" for n in HISTOGRAMS)
        + " |\n|---|---:|" + "---:|" * len(HISTOGRAMS) + "\n" + "\n".join(metric_rows)
    )
    notes = []
    for r in results:
        missing = f"{r.missing_cdc} / {r.missing_processed} probes never arrived"
        notes.append(
            f"- {_achieved(r)}: machine CPU busy {r.cpu_busy:.0%}; {missing} (mysql-orders / "
            f"processed-orders); {r.late_probe_starts} probes started late. "
            f"{r.loadgen_summary}"
        )
    facts = (
        f"Machine: {machine.nproc} cores ({machine.cpu_model}), {machine.memory_gib} GiB, "
        f"Linux {machine.kernel}; Python {machine.python}, bytewax {machine.bytewax}, "
        f"confluent-kafka {machine.confluent_kafka} (librdkafka {machine.librdkafka})."
    )
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return (
        f"{table}\n\nThe dataflow's own histograms over the same probe runs (all traffic, "
        f"interpolated p50):\n\n{metrics}\n\nCommand: `{command}` — {when}.\n\n{facts}\n\n"
        + "\n".join(notes)
    )


if __name__ == "__main__":
    raise SystemExit(main())
