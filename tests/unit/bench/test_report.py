"""bench.report: the line of a second drain with another number of processes (same run)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest

from bench import dataflow_throughput
from bench.report import BenchRun, Round, _other_layout_lines, _round_lines


def test_the_other_layout_is_compared_with_the_first_drain_of_the_same_run() -> None:
    drain = SimpleNamespace(records=1000, seconds=0.25, cpu_seconds=0.02)
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
    assert _other_layout_lines(cast(BenchRun, SimpleNamespace(also=None))) == []


def test_also_processes_is_optional_and_never_negative(capsys: pytest.CaptureFixture[str]) -> None:
    assert dataflow_throughput.parse_args([]).also_processes == 0
    assert dataflow_throughput.parse_args(["--also-processes", "2"]).also_processes == 2
    with pytest.raises(SystemExit):
        dataflow_throughput.parse_args(["--also-processes", "-1"])
    assert "--also-processes" in capsys.readouterr().err


def test_rounds_are_listed_with_the_medians_of_their_paired_ratios() -> None:
    rounds = [
        Round(100_000.0, 40_000.0, 56_000.0),  # ratio 0.400, 1.40 times
        Round(80_000.0, 44_000.0, 44_000.0),  # ratio 0.550, 1.00 times
        Round(90_000.0, 45_000.0, 58_500.0),  # ratio 0.500, 1.30 times
    ]
    run = SimpleNamespace(rounds=rounds, also=SimpleNamespace(processes=2))
    lines = _round_lines(cast(BenchRun, run))
    assert "`--rounds 3`" in lines[1] and "dataflow with 2 processes" in lines[1]
    table = [line for line in lines if line.startswith("| ")]
    assert table[0] == (
        "| round | baseline events/s | dataflow events/s | ratio | 2 processes, events/s "
        "| times the dataflow |"
    )
    assert table[1] == "| 1 | 100,000 | 40,000 | 0.400 | 56,000 | 1.40 |"
    # The median of each column: of the ratios, not the ratio of the medians (0.489).
    assert table[-1] == "| **median** | 90,000 | 44,000 | **0.500** | 56,000 | **1.30** |"


def test_one_round_adds_no_lines_and_rounds_without_another_layout_have_four_columns() -> None:
    assert _round_lines(cast(BenchRun, SimpleNamespace(rounds=[Round(2.0, 1.0)], also=None))) == []
    run = SimpleNamespace(rounds=[Round(2.0, 1.0), Round(4.0, 1.0)], also=None)
    table = [line for line in _round_lines(cast(BenchRun, run)) if line.startswith("| ")]
    assert table[0] == "| round | baseline events/s | dataflow events/s | ratio |"
    assert table[-1] == "| **median** | 3 | 1 | **0.375** |"


def test_rounds_are_at_least_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert dataflow_throughput.parse_args([]).rounds == 1
    assert dataflow_throughput.parse_args(["--rounds", "3"]).rounds == 3
    with pytest.raises(SystemExit):
        dataflow_throughput.parse_args(["--rounds", "0"])
    assert "--rounds must be >= 1" in capsys.readouterr().err
