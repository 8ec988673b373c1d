"""The chaos suite's registry and CLI (the scenarios themselves run against the live stack)."""

from __future__ import annotations

import pytest

from orderstream.chaos.harness import Result
from orderstream.chaos.registry import all_scenarios
from orderstream.cli import main


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
    line = Result("x", "kill -9 of y", "50/s", 3.2, 61.0, "matches", 0, "", True).line()
    assert line == (
        "PASS x | kill -9 of y | load 50/s | down 3s | recovery 61s | money matches | "
        "dead letters 0"
    )
    never = Result("x", "f", "50/s", 1, None, "not run", 0, "", False).line()
    assert never.startswith("FAIL x") and "recovery never" in never
