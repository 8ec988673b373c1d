"""The chaos suite's registry and CLI (the scenarios themselves run against the live stack)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orderstream.chaos.harness import Result, name_windows, reconcile_summary
from orderstream.chaos.registry import all_scenarios
from orderstream.cli import main
from orderstream.reconcile.compare import Diff, Report, Section, format_report


def test_the_fast_subset_covers_a_broker_connect_the_dataflow_and_the_purge() -> None:
    fast = {name for name, s in all_scenarios().items() if s.fast}
    assert fast == {"broker-kill9", "connect-kill9", "dataflow-kill9", "stack-purge"}


def test_list_names_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chaos", "--list"]) == 0
    out = capsys.readouterr().out
    for name in all_scenarios():
        assert name in out


def test_unknown_scenario_is_refused_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chaos", "no-such-fault"]) == 2
    assert "unknown scenario(s): no-such-fault" in capsys.readouterr().err


def test_result_line_says_what_was_done_and_the_verdict() -> None:
    line = Result("x", "kill -9 of y", "50/s", 3.2, 61.0, "matches", "0", "", True).line()
    assert line == (
        "PASS x | kill -9 of y | load 50/s | down 3s | recovery 61s | money matches | "
        "dead letters 0"
    )
    never = Result("x", "f", "50/s", 1, None, "not run", "not read", "", False).line()
    assert never.startswith("FAIL x") and "recovery never" in never


def _report(*diffs: Diff) -> str:
    lo = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
    section = Section("revenue", checked=5, diffs=diffs, mismatched=len(diffs))
    return format_report(Report(60, 5, lo, None, (section,)))


def test_reconcile_summary_names_the_windows_of_the_real_report_format() -> None:
    w1 = datetime(2026, 11, 25, 13, 1, tzinfo=UTC)
    w2 = datetime(2026, 11, 25, 13, 2, tzinfo=UTC)
    report = _report(
        Diff(w1, "EUR", "gross", "10.00", "4.00"),
        Diff(w1, "EUR", "net", "10.00", "4.00"),
        Diff(None, "order 42", "version", "3", "2"),
        Diff(w2, "PAID->SHIPPED", "count", "2", "1"),
    )
    verdict, windows = reconcile_summary(report)
    assert verdict == "RESULT: MISMATCH"
    assert windows == [w1.isoformat(), w2.isoformat()]
    assert name_windows(windows, most=1) == f"2 window(s): {w1.isoformat()} and 1 more"


def test_a_matching_report_names_no_window() -> None:
    verdict, windows = reconcile_summary(_report())
    assert verdict == "RESULT: OK, everything matches"
    assert windows == [] and name_windows(windows) == "no window named"
    assert reconcile_summary("") == ("no output", [])
