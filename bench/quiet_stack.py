"""Pause the stack's own work while a benchmark measures, and start it again afterwards.

A benchmark needs only the brokers, but the running native stack does more on the same cores:
the demo load writes orders, Debezium's task wakes every ``poll.interval.ms`` (5 ms) and took
about 16 % of a core here even without load, and the stack's dataflow processes what it
captures. Together with the demo load that was about half a core of a 2-core machine, taken
from the brokers and the processes being measured, and varying with the demo's activity.

:func:`paused` stops the given components' programs that are running (in reverse start
order) and starts them again when the block ends, however it ends, through the stack's own
start path, which waits until each is ready again (docs/architecture.md). A component that
was not running stays as it was. If the benchmark is killed before that, ``scripts/start.sh``
starts what is missing.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence

from orderstream.stack.components import Component
from orderstream.stack.runtime import Stack
from orderstream.stack.supervisor import ProgramState

#: The stack's components a throughput benchmark pauses by default: every one that does
#: work of its own; the brokers, MariaDB and the monitoring stay up.
PAUSED_BY_DEFAULT = ("loadgen", "dataflow", "connect")


@contextlib.contextmanager
def paused(
    names: Sequence[str] = PAUSED_BY_DEFAULT,
    stack: Stack | None = None,
    say: Callable[[str], None] = print,
) -> Iterator[list[str]]:
    """Within the block, the named components (``Component.name``) are stopped; yields the
    names of all of them, those it stopped and those that were stopped already: what the
    report says did not run during the measurement (nothing without a stack)."""
    stack = Stack.from_env() if stack is None else stack
    unknown = sorted(set(names) - {c.name for c in stack.components})
    if unknown:
        raise ValueError(f"no stack component named {', '.join(unknown)}")
    if not stack.is_running():
        yield []
        return
    programs = stack.supervisor.programs()  # one query for every component's state
    running = [c for c in stack.components if c.name in names and _running(programs, c)]
    if running:
        say(
            f"pausing {', '.join(c.name for c in running)} for the measurement "
            "(started again at the end; if this is killed first, run scripts/start.sh)"
        )
    try:
        for component in reversed(running):
            with _progress_to_stderr():
                stack.stop_programs([p.name for p in component.programs()])
        yield [c.name for c in stack.components if c.name in names]
    finally:
        for component in running:
            with _progress_to_stderr():
                stack.start_component(component)
        if running:
            say(f"started {', '.join(c.name for c in running)} again")


def _running(programs: Mapping[str, ProgramState], component: Component) -> bool:
    return any(p.name in programs and programs[p.name].running for p in component.programs())


def _progress_to_stderr() -> contextlib.AbstractContextManager[object]:
    """The stack prints its progress on stdout; a benchmark keeps stdout for its results."""
    return contextlib.redirect_stdout(sys.stderr)
