"""The scenario registry: a scenario is a name, what it does and a function that does it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orderstream.chaos.harness import Chaos


@dataclass(frozen=True)
class Fault:
    """What a scenario did: how long the fault lasted and anything the line should say."""

    downtime_s: float
    note: str = ""
    #: False when the scenario's own expectation failed (e.g. a loud failure did not happen).
    ok: bool = True


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: str
    inject: Callable[[Chaos], Fault]
    #: In the fast subset that scripts/test.sh runs.
    fast: bool = False
    #: The harness runs the load around the fault (False: the scenario runs its own).
    under_load: bool = True
    #: Seconds allowed for ``status`` to become healthy after the heal.
    recovery_timeout_s: float = 300
    #: The fault loses changes: ``reconcile`` must report the windows that miss them.
    loses_changes: bool = False


SCENARIOS: dict[str, Scenario] = {}


def scenario(
    name: str,
    fault: str,
    *,
    fast: bool = False,
    under_load: bool = True,
    recovery_s: float = 300,
    loses_changes: bool = False,
) -> Callable[[Callable[[Chaos], Fault]], Callable[[Chaos], Fault]]:
    """Register the decorated function as scenario ``name``."""

    def register(inject: Callable[[Chaos], Fault]) -> Callable[[Chaos], Fault]:
        if name in SCENARIOS:
            raise ValueError(f"chaos scenario {name!r} registered twice")
        SCENARIOS[name] = Scenario(name, fault, inject, fast, under_load, recovery_s, loses_changes)
        return inject

    return register


def all_scenarios() -> dict[str, Scenario]:
    """Every scenario, once each family module has registered its own."""
    from orderstream.chaos import brokers, connect, dataflow, stack  # noqa: F401

    return SCENARIOS
