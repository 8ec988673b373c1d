"""bench.report: the line of a second drain with another number of processes (same run), what
ran beside the run, and the bench's arguments for both."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest

from bench import dataflow_throughput
from bench.passthrough import PassthroughResult
from bench.procstats import ThreadShares
from bench.report import (
    BenchRun,
    _baseline_shares,
    _leftovers_line,
    _other_layout_lines,
    _stack_line,
    thread_shares,
)


def test_the_other_layout_is_compared_with_the_first_drain_of_the_same_run() -> None:
    drain = SimpleNamespace(
        records=1000,
        seconds=0.25,
        cpu_seconds=0.02,
        busiest_threads=[ThreadShares(0.7, 0.2), ThreadShares(0.6, 0.25)],
    )
    check = SimpleNamespace(
        ok=True, corrections=0, transition_corrections=1, records_read=9, transition_records=21
    )
    run = SimpleNamespace(
        processes=1,
        workers=1,
        figures=SimpleNamespace(baseline_events_per_s=8000.0, dataflow_events_per_s=2500.0),
        also=SimpleNamespace(processes=2, dataflow=drain, revenue_check=check),
    )
    [_, line] = _other_layout_lines(cast(BenchRun, run))
    # 4,000 events/s: half the baseline, 1.6 times the single process; 20 CPU s per million.
    assert "2 processes of 1 worker" in line and "**4,000 events/s**, 0.500 of the baseline" in line
    assert "**1.60 times the 1 process**" in line and "20.0 CPU s per million" in line
    assert "revision > 1: 1 of 30" in line
    assert "on a CPU / waiting for one: 70% / 20%, 60% / 25%;" in line
    assert _other_layout_lines(cast(BenchRun, SimpleNamespace(also=None))) == []


def test_also_processes_is_optional_and_never_negative(capsys: pytest.CaptureFixture[str]) -> None:
    assert dataflow_throughput.parse_args([]).also_processes == 0
    assert dataflow_throughput.parse_args(["--also-processes", "2"]).also_processes == 2
    with pytest.raises(SystemExit):
        dataflow_throughput.parse_args(["--also-processes", "-1"])
    assert "--also-processes" in capsys.readouterr().err


def test_rounds_are_at_least_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert dataflow_throughput.parse_args([]).rounds == 1
    assert dataflow_throughput.parse_args(["--rounds", "3"]).rounds == 3
    with pytest.raises(SystemExit):
        dataflow_throughput.parse_args(["--rounds", "0"])
    assert "--rounds must be >= 1" in capsys.readouterr().err


def test_the_report_says_which_stack_components_were_paused() -> None:
    line = _stack_line(["loadgen", "dataflow", "connect"])
    assert "loadgen, dataflow, connect did not run during the measurement" in line
    assert "paused" not in _stack_line([]) and "did not run" not in _stack_line([])


def test_the_report_says_when_other_runs_topics_loaded_the_brokers() -> None:
    assert "875 topics of other bench runs" in _leftovers_line(875)
    assert "not comparable" in _leftovers_line(875)
    assert _leftovers_line(0) == ""


def test_the_stack_is_paused_unless_kept_running() -> None:
    assert dataflow_throughput.parse_args([]).keep_stack_running is False
    assert dataflow_throughput.parse_args(["--keep-stack-running"]).keep_stack_running is True


def test_thread_shares_are_given_per_process_or_said_to_be_missing() -> None:
    assert thread_shares([ThreadShares(0.634, 0.301)]) == "63% / 30%"
    assert thread_shares([]) == "not measured"
    measured = PassthroughResult(1, 1.0, 1.0, 1.0, 1, busiest_running=0.9, busiest_waiting=0.05)
    assert thread_shares(_baseline_shares(measured)) == "90% / 5%"
    peer = PassthroughResult(1, 1.0, 1.0, 1.0, 1)  # the peers do not measure it
    assert thread_shares(_baseline_shares(peer)) == "not measured"
