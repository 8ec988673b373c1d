"""bench.stage_costs: every step of the flow is timed, and bad arguments are named."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.offline import raw_changes
from bench.stage_costs import STEPS, stage_seconds


def test_every_step_does_the_flows_work_on_the_generated_changes() -> None:
    raws = raw_changes(2000, 0.05, 1)
    run = stage_seconds(raws)
    assert list(run.seconds) == list(STEPS)
    assert run.outputs["parse_cdc"] == len(raws)  # every record is a valid change
    # Re-deliveries are dropped; every change gets its processed-orders record.
    assert run.outputs["dedupe_by_order"] == run.outputs["format_processed"] == 2000
    assert 0 < run.outputs["revenue_by_currency"] < 2000
    assert 0 < run.outputs["transitions_by_pair"] < 2000
    assert run.outputs["window_revenue"] == run.outputs["revenue_by_currency"]
    assert run.outputs["window_transitions"] == run.outputs["transitions_by_pair"]


@pytest.mark.parametrize("argument", ["--events=0", "--repeats=0", "--partitions=0"])
def test_a_bad_argument_exits_non_zero_naming_it(argument: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.stage_costs", argument],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert argument.split("=")[0] in result.stderr
