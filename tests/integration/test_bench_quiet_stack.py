"""bench.quiet_stack against the live stack: a paused component is stopped within the block
and running again after it, also when the block fails."""

from __future__ import annotations

import pytest

from bench import quiet_stack
from orderstream.stack.runtime import Stack
from orderstream.stack.supervisor import Supervisor

PAUSED = "loadgen"  # one of the defaults, and the quickest to start again


def test_a_paused_component_stops_within_the_block_and_runs_again_after(
    supervisor: Supervisor,
) -> None:
    assert supervisor.program(PAUSED).running
    said: list[str] = []
    with quiet_stack.paused([PAUSED], Stack.from_env(), said.append) as paused:
        assert paused == [PAUSED]
        assert supervisor.program(PAUSED).state == "STOPPED"
    assert supervisor.program(PAUSED).running
    assert said[0].startswith(f"pausing {PAUSED}") and said[-1] == f"started {PAUSED} again"


def test_a_failing_block_still_starts_the_paused_component_again(supervisor: Supervisor) -> None:
    stack = Stack.from_env()
    with (
        pytest.raises(RuntimeError, match="measurement failed"),
        quiet_stack.paused([PAUSED], stack, lambda _: None),
    ):
        assert not supervisor.program(PAUSED).running
        raise RuntimeError("measurement failed")
    assert supervisor.program(PAUSED).running


def test_a_component_that_was_not_running_is_left_alone(supervisor: Supervisor) -> None:
    stack = Stack.from_env()
    with quiet_stack.paused([PAUSED], stack, lambda _: None):
        # Paused already: the inner block finds nothing running, so it restarts nothing,
        # and still reports the component as quiet during the block (the report's line).
        with quiet_stack.paused([PAUSED], stack, lambda _: None) as inner:
            assert inner == [PAUSED]
        assert not supervisor.program(PAUSED).running
    assert supervisor.program(PAUSED).running


def test_an_unknown_component_is_refused_by_name() -> None:
    stack = Stack.from_env()
    with (
        pytest.raises(ValueError, match="no stack component named kafka-9"),
        quiet_stack.paused(["kafka-9"], stack, lambda _: None),
    ):
        pass
