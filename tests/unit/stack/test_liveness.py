"""status checks liveness: restart counts, last error lines, progress, live voters, JSON."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path

import pytest

from dataflows.kafka_io import SourceError, check_resume_offset
from dataflows.settings import RESET_COMMAND
from orderstream.cli import build_parser
from orderstream.stack.components import Check, StackError
from orderstream.stack.components.dataflow import Dataflow, judge_progress
from orderstream.stack.components.kafka import QuorumReplica, judge_quorum
from orderstream.stack.health import format_json
from orderstream.stack.liveness import (
    judge_program,
    last_error_line,
    tail_lines,
    unexpected_exits,
)
from orderstream.stack.supervisor import ProgramState, Supervisor
from tests.unit.stack.conftest import make_context

SUPERVISORD_LOG = """\
2026-11-25 10:00:01,100 INFO spawned: 'dataflow' with pid 100
2026-11-25 10:00:04,200 INFO success: dataflow entered RUNNING state, process has stayed up
2026-11-25 10:00:05,300 WARN exited: dataflow (exit status 1; not expected)
2026-11-25 10:00:06,100 INFO spawned: 'dataflow' with pid 101
2026-11-25 10:00:09,000 WARN exited: dataflow (exit status 1; not expected)
2026-11-25 10:00:09,500 WARN exited: kafka-2 (terminated by SIGKILL; not expected)
2026-11-25 09:00:00,000 WARN exited: connect-1 (terminated by SIGKILL; not expected)
2026-11-25 10:00:10,000 INFO stopped: kafka-3 (terminated by SIGTERM)
"""

DATAFLOW_LOG = """\
Traceback (most recent call last):
  File "/repo/dataflows/kafka_io.py", line 165, in __init__
    raise SourceError(
dataflows.kafka_io.SourceError: orderstream: recovery state does not fit topic 'cdc'
The above exception was the direct cause of the following exception:
bytewax.errors.BytewaxRuntimeError: (src/inputs.rs:402:46): error calling `build_part`
"""


def test_unexpected_exits_are_counted_per_program_within_the_window() -> None:
    exits = unexpected_exits(SUPERVISORD_LOG.splitlines(), since=datetime(2026, 11, 25, 10))
    # a clean stop is not an unexpected exit; an exit before the window is not counted
    assert exits == {"dataflow": 2, "kafka-2": 1}


def test_our_error_line_wins_over_bytewax_step_name() -> None:
    line = last_error_line(DATAFLOW_LOG.splitlines())
    assert line is not None and "recovery state does not fit topic 'cdc'" in line


def test_last_error_line_falls_back_to_the_last_error_and_none() -> None:
    assert last_error_line(["ok", "java.io.IOException: disk", "fine"]) == (
        "java.io.IOException: disk"
    )
    assert last_error_line(["all good"]) is None


def test_tail_lines_of_a_missing_file_is_empty(tmp_path: Path) -> None:
    assert tail_lines(tmp_path / "nope.log") == []
    log = tmp_path / "x.log"
    log.write_text("a\n" + "b" * 100 + "\nlast\n")
    assert tail_lines(log, size=10) == ["bbbb", "last"]


def test_crash_loop_and_stopped_programs_fail_with_their_last_error(tmp_path: Path) -> None:
    log = tmp_path / "dataflow.log"
    log.write_text(DATAFLOW_LOG)
    running = ProgramState("dataflow", "RUNNING", 101, "pid 101")
    assert judge_program(running, 0, log) is None
    assert judge_program(running, 1, log) is None  # one kill -9 and a restart: not a loop
    loop = judge_program(running, 2, log)
    assert loop is not None and not loop.healthy
    assert "crash loop, 2 unexpected exit(s)" in loop.detail
    assert "recovery state does not fit" in loop.detail
    stopped = judge_program(ProgramState("kafka-3", "STOPPED", 0, ""), 0, tmp_path / "k.log")
    assert stopped is not None and stopped.detail.startswith("STOPPED")


def test_dataflow_progress() -> None:
    consuming = judge_progress((10, 5, 100), (20, 0, 110))
    assert consuming.healthy and consuming.detail.startswith("consuming: 10")
    idle = judge_progress((10, 0, 100), (10, 0, 100))
    assert idle.healthy and idle.detail.startswith("idle")
    lagging = judge_progress((10, 0, 100), (10, 40, 100))
    assert not lagging.healthy and "consumer lag 40" in lagging.detail
    # new input arrived, none read (a stale lag gauge says 0): stalled
    new_input = judge_progress((10, 0, 100), (10, 0, 130))
    assert not new_input.healthy and "30 new" in new_input.detail


def test_a_stopped_voter_is_not_caught_up_even_with_a_recent_catch_up_time() -> None:
    replicas = [
        QuorumReplica(1, 0, 1000, "Leader"),
        QuorumReplica(2, 0, 1000, "Follower"),
        QuorumReplica(3, 0, 1000, "Follower"),
    ]
    assert judge_quorum(replicas, now_ms=1000, alive={1, 2, 3}).healthy
    check = judge_quorum(replicas, now_ms=1000, alive={1, 2})
    assert not check.healthy
    assert check.detail == "leader 1, 2/3 voters caught up (behind: 3)"


def test_resume_offset_outside_the_topic_names_the_mismatch_and_the_reset() -> None:
    check_resume_offset("cdc", 0, 5, 0, 5)  # at the end: nothing new, fits
    check_resume_offset("cdc", 0, 0, 0, 0)
    with pytest.raises(SourceError) as younger:
        check_resume_offset("cdc", 1, 900, 0, 12)
    message = str(younger.value)
    assert "recovery state does not fit topic 'cdc'" in message
    assert "offset 900" in message and "0..12" in message and RESET_COMMAND in message
    with pytest.raises(SourceError, match="retention deleted"):
        check_resume_offset("cdc", 0, 3, 10, 20)


def test_status_json_lists_every_check_and_the_verdict() -> None:
    doc = json.loads(format_json([Check("a", True, "up"), Check("kafka-2", False, "down")]))
    assert doc["healthy"] is False and doc["unhealthy"] == ["kafka-2"]
    assert doc["checks"][1] == {"component": "kafka-2", "healthy": False, "detail": "down"}
    assert build_parser().parse_args(["status", "--json"]).json is True


class _Supervisor(Supervisor):
    """The dataflow's states, one per call."""

    def __init__(self, states: list[ProgramState]) -> None:
        super().__init__(Path("/nonexistent.sock"))
        self.states = states

    def program(self, name: str) -> ProgramState:
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]


def test_start_fails_with_the_dataflows_own_error_when_it_does_not_stay_up(
    tmp_path: Path,
) -> None:
    ctx = make_context(root=tmp_path)
    states = [
        ProgramState("dataflow", "STARTING", 10, ""),
        ProgramState("dataflow", "BACKOFF", 0, "Exited too quickly"),
    ]
    ctx = dataclasses.replace(ctx, supervisor=_Supervisor(states))
    ctx.layout.logs.mkdir(parents=True)
    ctx.log_of("dataflow").write_text(DATAFLOW_LOG)
    with pytest.raises(StackError) as failed:
        Dataflow(ctx).wait_ready()
    assert "dataflow does not stay up" in str(failed.value)
    assert "recovery state does not fit topic 'cdc'" in str(failed.value)


def test_a_restarted_dataflow_is_not_up_and_says_why(tmp_path: Path) -> None:
    ctx = make_context(root=tmp_path)
    ctx.layout.logs.mkdir(parents=True)
    ctx.log_of("dataflow").write_text(DATAFLOW_LOG)
    now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    (ctx.layout.logs / "supervisord.log").write_text(
        f"{now},1 WARN exited: dataflow (exit status 1; not expected)\n"
    )
    (check,) = Dataflow(ctx).checks()
    assert not check.healthy
    assert "restarted 1 time(s) in the last 60s" in check.detail
    assert "recovery state does not fit" in check.detail
