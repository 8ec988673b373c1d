"""Kafka broker faults: kill -9, two of three down, SIGSTOP of the CDC topic's leader."""

from __future__ import annotations

import os
import signal
import time

from orderstream.chaos.harness import Chaos
from orderstream.chaos.registry import Fault, scenario
from orderstream.poll import until
from orderstream.stack.components.kafka import program_name
from orderstream.stack.health import check_all
from orderstream.stack.kafka_admin import admin_client


def _restarted(chaos: Chaos, program: str, old_pid: int, timeout: float = 120) -> float:
    started = time.monotonic()
    until(
        f"{program} to be restarted",
        lambda: (state := chaos.supervisor.program(program)).running and state.pid != old_pid,
        timeout,
    )
    return time.monotonic() - started


@scenario("broker-kill9", "kill -9 of broker kafka-2", fast=True)
def broker_kill9(chaos: Chaos) -> Fault:
    program = program_name(2)
    pid = chaos.pid(program)
    chaos.kill9(program)
    return Fault(_restarted(chaos, program, pid))


@scenario("brokers-2-of-3-down", "kafka-2 and kafka-3 stopped for 120s", recovery_s=400)
def two_brokers_down(chaos: Chaos) -> Fault:
    started = time.monotonic()
    victims = [program_name(2), program_name(3)]
    for program in victims:
        chaos.stop(program)
    chaos.hold(100)
    seen = {c.component: c for c in check_all(chaos.settings)}
    visible = not seen["kafka-isr"].healthy and "under min.insync" in seen["kafka-isr"].detail
    chaos.hold(max(0.0, 120 - (time.monotonic() - started)))
    for program in victims:
        chaos.start(program)
    note = "under-min-ISR shown by status" if visible else "status did NOT show under-min-ISR"
    return Fault(time.monotonic() - started, note, ok=visible)


@scenario("leader-sigstop", "SIGSTOP of the CDC topic's partition-0 leader for 30s")
def leader_sigstop(chaos: Chaos) -> Fault:
    topic = chaos.settings.topics.cdc
    meta = admin_client(chaos.settings).list_topics(topic, timeout=10)
    leader = meta.topics[topic].partitions[0].leader
    program = program_name(leader)
    pid = chaos.pid(program)
    chaos.say(f"SIGSTOP {program} (pid {pid}), leader of {topic}[0]")
    os.kill(pid, signal.SIGSTOP)
    try:
        chaos.hold(30)
    finally:
        os.kill(pid, signal.SIGCONT)
    return Fault(30, f"leader was {program}")
