"""Drain throughput of the orders dataflow against a plain Kafka pass-through.

    python -m bench.dataflow_throughput [--events N] [--duplicate-rate P] [--seed S]
                                        [--processes N] [--also-processes M]
                                        [--peers kstreams,quix] [--rounds R] [--keep-topics]
                                        [--keep-stack-running]

1. fills a fresh ``bench-<run>-cdc`` topic (6 partitions, like mysql-orders) with N realistic
   Debezium change events from the seeded loadgen planner plus re-delivered duplicates;
2. baseline: ``python -m bench.passthrough`` (consume -> orjson.loads -> produce);
3. ``python -m bytewax.run dataflows.orders`` on bench topics, from the beginning (again with
   M processes into their own output topics with ``--also-processes M``);
4. with ``--peers``, each peer drains the same topic (bench/peer_apps.py);
5. with ``--rounds R``, R - 1 more rounds of all of the above on the same input, each into
   fresh output topics: on a noisy machine the median of the paired ratios says more than
   one pair;
6. prints the table; full runs (N >= 1,000,000) also write bench/README.md and
   bench/results/dataflow_throughput.json. The bench topics are deleted at the end.

While it runs, the stack's demo load, Connect workers and dataflow are paused
(bench/quiet_stack.py) unless ``--keep-stack-running``.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

from bench import envelopes, peer_apps, quiet_stack
from bench.dataflow_run import DataflowResult, measure_drain, running_dataflow, wait_until
from bench.envelopes import CdcRecord, EnvelopeBuilder
from bench.expected import RevenueLedger
from bench.fill import fill_topic
from bench.kafka_topics import (
    BenchTopics,
    bench_topics,
    create_topics,
    delete_run_topics,
    other_runs_topics,
    record_count,
    run_id,
)
from bench.passthrough import PassthroughResult
from bench.report import (
    BenchRun,
    OtherLayout,
    figures,
    machine_facts,
    results_markdown,
    write_json,
    write_readme,
)
from bench.revenue_check import RevenueCheck, check_revenue, with_transitions
from bench.rounds import Round
from orderstream.settings import Settings

DEFAULT_EVENTS = 1_000_000
DEFAULT_DUPLICATE_RATE = 0.05
BENCH_DIR = Path(__file__).resolve().parent
README = BENCH_DIR / "README.md"
RESULTS_JSON = BENCH_DIR / "results" / "dataflow_throughput.json"
#: The last revenue window closes once the watermark passes its end: up to one window plus
#: the allowed lateness of system time after the last event.
REVENUE_SETTLE_TIMEOUT_S = 150.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dataflow_throughput",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--events",
        type=int,
        default=DEFAULT_EVENTS,
        help="distinct change events (default %(default)s)",
    )
    parser.add_argument(
        "--duplicate-rate",
        type=float,
        default=DEFAULT_DUPLICATE_RATE,
        help="fraction re-delivered as Connect restarts do (default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=1, help="planner seed (default 1)")
    parser.add_argument(
        "--plan-rate",
        type=float,
        default=envelopes.PLAN_RATE,
        help="changes per second of event time (default %(default)s: 1M changes span ~8 "
        "minutes; 11.6 spreads them over 24 h, the window retention)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="dataflow workers per process (default 1)"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="dataflow processes, a Bytewax cluster when > 1 (default 1)",
    )
    parser.add_argument(
        "--also-processes",
        type=int,
        default=0,
        help="after the dataflow, drain the same input again with this many processes (own "
        "output topics) and report both rates: the scaling measured in one run",
    )
    parser.add_argument(
        "--keep-topics", action="store_true", help="leave the bench topics in place"
    )
    parser.add_argument(
        "--peers",
        default="",
        help="comma-separated peers to drain the same topic after the dataflow: "
        f"{', '.join(peer_apps.NAMES)} (default: none; built on first use, bench/peer_apps.py)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure the baseline and the dataflow (and --also-processes, --peers) this many "
        "times, alternating, and report every round and the medians (default 1; later rounds "
        "skip the revenue check)",
    )
    parser.add_argument(
        "--keep-stack-running",
        action="store_true",
        help="do not pause the stack's "
        f"{', '.join(quiet_stack.PAUSED_BY_DEFAULT)} while measuring (bench/quiet_stack.py)",
    )
    parser.add_argument(
        "--skip-revenue-check",
        action="store_true",
        help="do not wait for the last windows to compare revenue totals",
    )
    args = parser.parse_args(argv)
    if args.events < 1:
        parser.error("--events must be >= 1")
    if args.processes < 1:
        parser.error("--processes must be >= 1")
    if args.also_processes < 0:
        parser.error("--also-processes must be >= 1 (0: not at all)")
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    args.peers = [name for name in args.peers.split(",") if name]
    unknown = sorted(set(args.peers) - set(peer_apps.NAMES))
    if unknown:
        parser.error(f"--peers: unknown {', '.join(unknown)} (known: {', '.join(peer_apps.NAMES)})")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    arguments = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "-m", "bench.dataflow_throughput", *arguments])
    bootstrap = Settings.from_env().bootstrap_servers
    run = run_id()
    topics = bench_topics(run)
    log_dir = Path("/tmp") / f"bench-{run}"
    log_dir.mkdir(parents=True, exist_ok=True)
    create_topics(bootstrap, topics)
    _say(f"topics bench-{run}-* created; logs in {log_dir}")
    others = other_runs_topics(bootstrap, run)
    if others:
        _say(
            f"warning: the brokers hold {len(others)} topics of other bench runs (e.g. "
            f"{others[0]}); they slow the brokers and every drain: delete them for clean figures"
        )
    pausing = () if args.keep_stack_running else quiet_stack.PAUSED_BY_DEFAULT
    try:
        with quiet_stack.paused(pausing, say=_say) as paused:
            result = _run(args, command, bootstrap, run, topics, log_dir, paused, len(others))
    finally:
        if not args.keep_topics:
            deleted = delete_run_topics(bootstrap, run)
            _say(f"{len(deleted)} bench topics deleted")
    block = results_markdown(result)
    print(block)
    if args.events >= DEFAULT_EVENTS:
        write_readme(README, block)
        write_json(RESULTS_JSON, result)
        _say(f"wrote {README} and {RESULTS_JSON}")
    checks = [result.revenue_check, None if result.also is None else result.also.revenue_check]
    return 0 if all(check is None or check.ok for check in checks) else 1


def _run(
    args: argparse.Namespace,
    command: str,
    bootstrap: str,
    run: str,
    topics: BenchTopics,
    log_dir: Path,
    paused: list[str],
    leftovers: int,
) -> BenchRun:
    """``paused``: the stack's components stopped for the run (quiet_stack.py);
    ``leftovers``: how many topics of other bench runs the brokers held."""
    ledger = RevenueLedger()
    plan = envelopes.redelivery_plan(args.events, args.duplicate_rate, args.seed)
    duplicates = sum(plan.values())
    records = envelopes.with_redeliveries(
        _records(args.events, args.seed, args.plan_rate, ledger), plan
    )
    fill = fill_topic(bootstrap, topics.cdc.name, records)
    total = args.events + duplicates
    if fill.records != total or record_count(bootstrap, topics.cdc) != total:
        raise RuntimeError(f"fill wrote {fill.records} records, expected {total}")
    _say(f"filled {fill.records:,} records in {fill.seconds:.1f} s")

    baseline = _run_baseline(topics, total)
    _say(f"baseline: {baseline.records / baseline.seconds:,.0f} events/s")
    dataflow, check = _run_dataflow(args, bootstrap, topics, total, ledger, log_dir)
    _say(f"dataflow: {dataflow.records / dataflow.seconds:,.0f} events/s")
    also = None
    if args.also_processes:
        other = bench_topics(run, outputs=f"p{args.also_processes}")
        create_topics(bootstrap, other, outputs_only=True)
        other_logs = log_dir / f"processes-{args.also_processes}"
        other_logs.mkdir(exist_ok=True)
        other_drain, other_check = _run_dataflow(
            args, bootstrap, other, total, ledger, other_logs, args.also_processes
        )
        rate = other_drain.records / other_drain.seconds
        _say(f"dataflow, {args.also_processes} processes: {rate:,.0f} events/s")
        also = OtherLayout(args.also_processes, other_drain, other_check)
    peer_results = _run_peers(args.peers, bootstrap, topics, run, total, log_dir)
    rounds = [Round.of(baseline, dataflow, None if also is None else also.dataflow, peer_results)]
    for number in range(2, args.rounds + 1):
        rounds.append(_round(args, bootstrap, run, total, log_dir, number))
    return BenchRun(
        command=command,
        date=time.strftime("%Y-%m-%d %H:%M %Z"),
        seed=args.seed,
        plan_rate=args.plan_rate,
        duplicate_rate=args.duplicate_rate,
        topic_run=run,
        machine=machine_facts(),
        fill=fill,
        baseline=baseline,
        dataflow=dataflow,
        figures=figures(args.events, duplicates, baseline, dataflow),
        revenue_check=check,
        processed_records=record_count(bootstrap, topics.processed),
        peers=peer_results,
        processes=args.processes,
        workers=args.workers,
        also=also,
        rounds=rounds,
        paused=paused,
        other_runs_topics=leftovers,
    )


def _round(
    args: argparse.Namespace, bootstrap: str, run: str, total: int, log_dir: Path, number: int
) -> Round:
    """One more round on the run's input: baseline, dataflow, ``--also-processes``, then
    ``--peers``."""
    topics = bench_topics(run, outputs=f"r{number}")
    create_topics(bootstrap, topics, outputs_only=True)
    round_logs = log_dir / f"round-{number}"
    round_logs.mkdir(exist_ok=True)
    baseline = _run_baseline(topics, total)
    dataflow, _ = _run_dataflow(args, bootstrap, topics, total, None, round_logs)
    other = None
    if args.also_processes:
        other_topics = bench_topics(run, outputs=f"r{number}p{args.also_processes}")
        create_topics(bootstrap, other_topics, outputs_only=True)
        other, _ = _run_dataflow(
            args, bootstrap, other_topics, total, None, round_logs, args.also_processes
        )
    peers = _run_peers(args.peers, bootstrap, topics, run, total, round_logs, f"r{number}")
    result = Round.of(baseline, dataflow, other, peers)
    _say(f"round {number}: {result.summary()}")
    return result


def _run_peers(
    names: list[str],
    bootstrap: str,
    topics: BenchTopics,
    run: str,
    total: int,
    log_dir: Path,
    outputs: str = "",
) -> dict[str, PassthroughResult]:
    """Each peer's drain of the run's input, in order; a peer that fails is left out."""
    results = {}
    source, partitions = topics.cdc.name, topics.cdc.partitions
    for name in names:
        _say(f"peer {name}: building if needed, then draining the same topic")
        try:
            result = peer_apps.run_peer(
                name, bootstrap, source, run, total, log_dir, partitions, outputs
            )
        except subprocess.SubprocessError as err:  # the dataflow's figures still count
            _say(f"peer {name} FAILED ({err}); see {log_dir}/peer-{name}.log")
            continue
        _say(f"peer {name}: {result.records / result.seconds:,.0f} events/s")
        results[name] = result
    return results


def _records(count: int, seed: int, plan_rate: float, ledger: RevenueLedger) -> Iterator[CdcRecord]:
    builder = EnvelopeBuilder()
    for change in envelopes.planned_changes(count, seed, plan_rate):
        ledger.add(change)
        yield builder.build(change)


def _run_baseline(topics: BenchTopics, total: int) -> PassthroughResult:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.passthrough",
            "--source",
            topics.cdc.name,
            "--sink",
            topics.passthrough.name,
            "--expect",
            str(total),
        ],
        cwd=BENCH_DIR.parent,
        check=True,
        stdout=subprocess.PIPE,
    )
    return PassthroughResult(**orjson.loads(completed.stdout))


def _run_dataflow(
    args: argparse.Namespace,
    bootstrap: str,
    topics: BenchTopics,
    total: int,
    ledger: RevenueLedger | None,
    log_dir: Path,
    processes: int | None = None,
) -> tuple[DataflowResult, RevenueCheck | None]:
    """``processes``: instead of ``--processes``; ``ledger``: None skips the revenue check."""
    started = time.perf_counter()
    count = args.processes if processes is None else processes
    with running_dataflow(topics, args.workers, log_dir, count) as running:
        dataflow = measure_drain(running, total, started)
        if args.skip_revenue_check or ledger is None:
            return dataflow, None
        _say("drained; waiting for the last revenue windows to close")
        checks: list[RevenueCheck] = []

        windows = ledger.windows

        def settled() -> bool:
            checks.append(check_revenue(bootstrap, topics.revenue, windows))
            return checks[-1].ok

        wait_until(settled, REVENUE_SETTLE_TIMEOUT_S, interval_s=5.0)
        check = with_transitions(checks[-1], bootstrap, topics.transitions)
    return dataflow, check


def _say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
