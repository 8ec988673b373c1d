"""Whether the supervised processes have stayed up: restart counts and last error lines.

supervisord says RUNNING for a process that crashes every few seconds, between crashes. Its
own log records every unexpected exit (``exited: NAME (...; not expected)``); counting those
in a recent window tells a crash loop from a process that has stayed up, and the last error
line of the program's log says why it fails.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from orderstream.stack.components.base import Check, Component
from orderstream.stack.supervisor import ProgramState, SupervisorUnavailable

#: Unexpected exits are counted over this window (seconds).
RESTART_WINDOW_S = 60
#: This many unexpected exits within the window is a crash loop for any program.
CRASH_LOOP_EXITS = 2
#: How much of a log's end is searched for its last error line.
TAIL_BYTES = 64 * 1024

_EXIT_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ \w+ exited: (\S+) \(.*not expected\)"
)
_ERROR_LINE = re.compile(r"(Error|ERROR|Exception|FATAL|error:|Offset out of range)")


def unexpected_exits(log_lines: Iterable[str], since: datetime) -> Counter[str]:
    """Per program, the unexpected exits supervisord logged at or after ``since`` (naive
    local time, as supervisord writes it)."""
    counts: Counter[str] = Counter()
    for line in log_lines:
        match = _EXIT_LINE.match(line)
        if match and datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S") >= since:
            counts[match.group(2)] += 1
    return counts


def tail_lines(path: Path, size: int = TAIL_BYTES) -> list[str]:
    """The last ``size`` bytes of a file as lines (empty when it does not exist)."""
    try:
        with path.open("rb") as file:
            file.seek(0, 2)
            file.seek(max(0, file.tell() - size))
            return file.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return []


def last_error_line(lines: Iterable[str]) -> str | None:
    """The last line that reports an error; a line of ours (``orderstream``) wins, since the
    final line of a Bytewax traceback only names the step that failed."""
    errors = [ln.strip() for ln in lines if _ERROR_LINE.search(ln)]
    ours = [ln for ln in errors if "orderstream" in ln and "Traceback" not in ln]
    chosen = ours or errors
    return chosen[-1][:400] if chosen else None


def recent_exits(supervisord_log: Path, now: datetime | None = None) -> Counter[str]:
    since = (now or datetime.now()) - timedelta(seconds=RESTART_WINDOW_S)
    return unexpected_exits(tail_lines(supervisord_log, 1024 * 1024), since)


def judge_program(
    state: ProgramState, exits: int, log: Path, max_exits: int = CRASH_LOOP_EXITS - 1
) -> Check | None:
    """A failing program's line (None when it runs and has not crash-looped)."""
    if state.running and exits <= max_exits:
        return None
    why = state.state if not state.running else "crash loop"
    detail = f"{why}, {exits} unexpected exit(s) in the last {RESTART_WINDOW_S}s"
    error = last_error_line(tail_lines(log))
    detail += f"; last error: {error}" if error else f"; see {log}"
    return Check(state.name, False, detail)


def program_checks(components: list[Component]) -> list[Check]:
    """One line for supervisord: restart counts of every program, and one line per program
    of a wanted component that is not RUNNING or keeps restarting, with its last error."""
    if not components:
        return []
    ctx = components[0].ctx
    try:
        states = ctx.supervisor.programs()
    except SupervisorUnavailable as exc:
        return [Check("supervisord", False, str(exc))]
    except Exception as exc:  # a status report names every part, whatever happened
        return [Check("supervisord", False, f"check failed: {type(exc).__name__}: {exc}")]
    exits = recent_exits(ctx.layout.logs / "supervisord.log")
    failing = []
    for component in components:
        if not component.wanted():
            continue
        for program in component.programs():
            state = states.get(program.name)
            if state is None:
                failing.append(Check(program.name, False, "not in supervisord's configuration"))
                continue
            check = judge_program(state, exits[program.name], ctx.log_of(program.name))
            if check is not None:
                failing.append(check)
    restarts = ", ".join(f"{name} {n}" for name, n in sorted(exits.items())) or "none"
    running = sum(1 for s in states.values() if s.running)
    summary = (
        f"{running}/{len(states)} programs RUNNING; unexpected exits in the last "
        f"{RESTART_WINDOW_S}s: {restarts}"
    )
    return [Check("supervisord", not failing, summary), *failing]
