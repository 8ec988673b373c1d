"""Dataflow faults: kill -9, stopped for 5 minutes, restarted with another worker count."""

from __future__ import annotations

import time

from orderstream import knobs
from orderstream.chaos.harness import Chaos
from orderstream.chaos.registry import Fault, scenario
from orderstream.poll import until
from orderstream.settings import Settings
from orderstream.stack.components import StackContext
from orderstream.stack.runtime import Stack

PROGRAM = "dataflow"


@scenario("dataflow-kill9", "kill -9 of the dataflow", fast=True)
def dataflow_kill9(chaos: Chaos) -> Fault:
    pid = chaos.pid(PROGRAM)
    started = time.monotonic()
    chaos.kill9(PROGRAM)
    until(
        "the dataflow to be restarted",
        lambda: (s := chaos.supervisor.program(PROGRAM)).running and s.pid != pid,
        120,
    )
    return Fault(time.monotonic() - started)


@scenario("dataflow-stopped-5m", "the dataflow stopped for 300s", recovery_s=400)
def dataflow_stopped(chaos: Chaos) -> Fault:
    started = time.monotonic()
    chaos.stop(PROGRAM)
    chaos.hold(300)
    chaos.start(PROGRAM)
    return Fault(time.monotonic() - started)


@scenario("dataflow-rescale", "dataflow restarted with another worker count, same recovery")
def dataflow_rescale(chaos: Chaos) -> Fault:
    workers = chaos.settings.dataflow_workers
    other = 1 if workers > 1 else 2
    started = time.monotonic()
    _restart_with_workers(chaos, other)
    chaos.hold(30)
    _restart_with_workers(chaos, workers)
    return Fault(time.monotonic() - started, f"{workers} -> {other} -> {workers} workers")


def _restart_with_workers(chaos: Chaos, workers: int) -> None:
    chaos.say(f"restarting the dataflow with {workers} worker(s)")
    env = {**chaos.ctx.env, knobs.DATAFLOW_WORKERS: str(workers)}
    ctx = StackContext.of(Settings.from_env(env), env)
    Stack(ctx).start()
