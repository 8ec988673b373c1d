"""`orderstream status`: each component checks itself for real; one line per check.

Nothing here trusts the supervisor's idea of "running": a broker is healthy when it answers
through its own listener, the controller quorum when it has a leader and three caught-up
voters that answer now, a Connect worker when its REST API answers, the connector when it and
its task are RUNNING, MariaDB when it answers a query with the binlog settings Debezium needs,
the dataflow when it has not restarted recently and reads its input (or has none to read).
Each component's ``checks`` say how; :mod:`orderstream.stack.liveness` adds supervisord's
restart counts and the last error line of a program that is down or crash-looping.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from orderstream.settings import Settings
from orderstream.stack import components as stack_components
from orderstream.stack import liveness
from orderstream.stack.components import Check, Component, StackContext

__all__ = [
    "Check",
    "check_all",
    "check_components",
    "format_json",
    "format_report",
    "print_report",
]


def _checks_of(component: Component) -> list[Check]:
    try:
        return component.checks()
    except Exception as exc:  # a status report names every component, whatever happened
        return [Check(component.name, False, f"check failed: {type(exc).__name__}: {exc}")]


def check_components(components: list[Component]) -> list[Check]:
    """Run every component's checks (concurrently: the quorum query starts a JVM), in order."""
    with ThreadPoolExecutor(max_workers=len(components) + 1) as pool:
        programs = pool.submit(liveness.program_checks, components)
        results = list(pool.map(_checks_of, components))
    return [check for checks in results for check in checks] + programs.result()


def check_all(settings: Settings) -> list[Check]:
    return check_components(stack_components.build(StackContext.of(settings)))


def format_report(checks: list[Check]) -> str:
    width = max(len(c.component) for c in checks)
    lines = [
        f"{'OK' if c.healthy else 'FAIL':<5} {c.component:<{width}}  {c.detail}" for c in checks
    ]
    unhealthy = [c.component for c in checks if not c.healthy]
    if unhealthy:
        lines.append(f"unhealthy: {', '.join(unhealthy)}")
    else:
        lines.append("all components healthy")
    return "\n".join(lines)


def format_json(checks: list[Check]) -> str:
    """``orderstream status --json``: for scripts."""
    return json.dumps(
        {
            "healthy": all(c.healthy for c in checks),
            "unhealthy": [c.component for c in checks if not c.healthy],
            "checks": [
                {"component": c.component, "healthy": c.healthy, "detail": c.detail} for c in checks
            ],
        },
        indent=2,
    )


def print_report(checks: list[Check], as_json: bool = False) -> int:
    print(format_json(checks) if as_json else format_report(checks), flush=True)
    return 0 if all(c.healthy for c in checks) else 1
