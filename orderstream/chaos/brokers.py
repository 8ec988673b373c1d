"""Kafka broker faults: kill -9, two of three down, SIGSTOP of the CDC topic's leader."""

from __future__ import annotations

import os
import signal
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition

from orderstream.chaos.harness import Chaos
from orderstream.chaos.registry import Fault, scenario
from orderstream.poll import until
from orderstream.settings import Settings
from orderstream.stack.components.kafka import program_name
from orderstream.stack.health import check_all
from orderstream.stack.kafka_admin import QUIET_LOGGER, admin_client


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
    both_down = time.monotonic()  # the 120 s count from here
    topic = chaos.settings.topics.cdc
    before = answering_ends(chaos.settings, topic)
    chaos.hold(max(0.0, 100 - (time.monotonic() - both_down)))
    seen = {c.component: c for c in check_all(chaos.settings)}
    visible = not seen["kafka-isr"].healthy and "under min.insync" in seen["kafka-isr"].detail
    after = answering_ends(chaos.settings, topic)
    chaos.hold(max(0.0, 120 - (time.monotonic() - both_down)))
    for program in victims:
        chaos.start(program)
    held, blocked = judge_blocked(topic, before, after)
    isr = "under-min-ISR shown by status" if visible else "status did NOT show under-min-ISR"
    return Fault(time.monotonic() - started, f"{isr}; {blocked}", ok=visible and held)


def answering_ends(settings: Settings, topic: str) -> dict[int, int]:
    """The high watermark of each partition of ``topic`` whose leader answers."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": "orderstream-chaos",
            "logger": QUIET_LOGGER,
        }
    )
    ends = {}
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        for p in partitions:
            try:
                _, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, p), timeout=3, cached=False
                )
            except KafkaException:
                continue  # its leader is one of the stopped brokers
            ends[p] = int(high)
    finally:
        consumer.close()
    return ends


def judge_blocked(topic: str, before: dict[int, int], after: dict[int, int]) -> tuple[bool, str]:
    """With fewer in-sync replicas than min.insync.replicas no ``acks=all`` write can commit:
    the high watermark of every partition that still answers must stay where it was (the
    producers block and retry). False only when a partition did accept records."""
    common = sorted(set(before) & set(after))
    moved = {p: after[p] - before[p] for p in common if after[p] != before[p]}
    if moved:
        grown = ", ".join(f"{topic}[{p}] +{n}" for p, n in moved.items())
        return False, f"records were committed while under min ISR: {grown}"
    if not common:
        return True, f"no partition of {topic} answered to show that producers blocked"
    answered = f"the {len(common)} partition(s) that answered"
    return True, f"{topic} committed nothing on {answered} (producers blocked)"


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
