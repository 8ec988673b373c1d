"""The benchmark's own topics: created fresh per run, named ``bench-<run>-<role>``."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace

from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from orderstream import contract
from orderstream.contract import TopicSpec
from orderstream.stack.kafka_admin import MIN_INSYNC_REPLICAS, topic_config

REPLICATION_FACTOR = 3
#: No time-based deletion. The runs' event time is fixed (``envelopes.BASE_TIME``), and
#: the Quix peer writes its repartition topic with event times as record timestamps and the
#: source topic's ``retention.ms``: with the broker's 7 days, once that date was a week old
#: the broker deleted those records as they came, and the peer's consumers looped on "offset
#: out of range". The topics are deleted at the end of the run (unless ``--keep-topics``).
RETENTION_MS = -1
_TIMEOUT_S = 60.0

#: A bench topic is specified as the stack's are, and created with the same config.
BenchTopic = TopicSpec


@dataclass(frozen=True)
class BenchTopics:
    cdc: BenchTopic  # input of both passes, like mysql-orders
    passthrough: BenchTopic  # the baseline's sink
    processed: BenchTopic
    revenue: BenchTopic
    transitions: BenchTopic
    dlq: BenchTopic

    @property
    def all(self) -> tuple[BenchTopic, ...]:
        return (
            self.cdc,
            self.passthrough,
            self.processed,
            self.revenue,
            self.transitions,
            self.dlq,
        )


def run_id() -> str:
    return f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"


def bench_topics(run: str, outputs: str = "") -> BenchTopics:
    """Topics shaped like the contract's (partitions, cleanup policy), with bench names.
    ``outputs``: a prefix for the output topics' roles, so that a second drain of the same
    input writes apart (``bench-<run>-<outputs>-processed``...)."""
    specs = {spec.name: spec for spec in contract.CONTRACT_TOPICS}

    def like(contract_topic: str, role: str) -> BenchTopic:
        spec = specs[contract_topic]
        if outputs and contract_topic != contract.TOPIC_CDC:
            role = f"{outputs}-{role}"
        return replace(spec, name=f"bench-{run}-{role}", retention_ms=RETENTION_MS)

    cdc = like(contract.TOPIC_CDC, "cdc")
    prefix = f"{outputs}-" if outputs else ""
    # The baseline writes with the dataflow's producer settings, so to a topic that takes
    # batches as large.
    passthrough = BenchTopic(
        f"bench-{run}-{prefix}passthrough",
        cdc.partitions,
        "delete",
        RETENTION_MS,
        contract.OUTPUT_BATCH_BYTES,
    )
    return BenchTopics(
        cdc=cdc,
        passthrough=passthrough,
        processed=like(contract.TOPIC_PROCESSED, "processed"),
        revenue=like(contract.TOPIC_REVENUE, "revenue"),
        transitions=like(contract.TOPIC_TRANSITIONS, "transitions"),
        dlq=like(contract.TOPIC_DLQ, "dlq"),
    )


def create_topics(bootstrap_servers: str, topics: BenchTopics, outputs_only: bool = False) -> None:
    """``outputs_only``: all but the CDC topic (a second drain of an input already there)."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    wanted = [t for t in topics.all if not (outputs_only and t is topics.cdc)]
    for future in admin.create_topics(
        [new_topic(t) for t in wanted], operation_timeout=_TIMEOUT_S
    ).values():
        future.result()
    _wait_for_leaders(admin, topics)


def new_topic(topic: BenchTopic) -> NewTopic:
    return NewTopic(
        topic.name,
        num_partitions=topic.partitions,
        replication_factor=REPLICATION_FACTOR,
        config=topic_config(topic),
    )


def _wait_for_leaders(admin: AdminClient, topics: BenchTopics) -> None:
    deadline = time.monotonic() + _TIMEOUT_S
    while True:
        metadata = admin.list_topics(timeout=_TIMEOUT_S)
        ready = all(
            t.name in metadata.topics
            and len(metadata.topics[t.name].partitions) == t.partitions
            and all(p.leader >= 0 for p in metadata.topics[t.name].partitions.values())
            for t in topics.all
        )
        if ready:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("bench topics have no leaders after 60 s")
        time.sleep(0.5)


def record_count(bootstrap_servers: str, topic: BenchTopic) -> int:
    """Sum of the partitions' end offsets (nothing is deleted during a run)."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": "bench-unused"})
    try:
        total = 0
        for partition in range(topic.partitions):
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic.name, partition), timeout=_TIMEOUT_S
            )
            total += high - low
        return total
    finally:
        consumer.close()


def create_plain_topics(bootstrap_servers: str, names: list[str], partitions: int) -> None:
    """Topics a peer writes to (Kafka Streams does not create its sink topics)."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    new = [
        NewTopic(
            name,
            num_partitions=partitions,
            replication_factor=REPLICATION_FACTOR,
            config={"min.insync.replicas": str(MIN_INSYNC_REPLICAS)},
        )
        for name in names
    ]
    for future in admin.create_topics(new, operation_timeout=_TIMEOUT_S).values():
        future.result()


#: A topic of some bench run: ``bench-<run>-...`` or a peer's topic with that inside.
RUN_TOPIC = re.compile(r"bench-\d{8}T\d{6}-\d+-")


def other_runs(names: Iterable[str], run: str) -> list[str]:
    """The names among ``names`` that belong to bench runs other than ``run``: left by a
    killed run or ``--keep-topics``. Hundreds of them slowed every drain 1.2-3.5x (their
    partitions fill the brokers' heaps; bench/README.md, "875 forgotten topics")."""
    own = f"bench-{run}-"
    return sorted(name for name in names if RUN_TOPIC.search(name) and own not in name)


def other_runs_topics(bootstrap_servers: str, run: str) -> list[str]:
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    return other_runs(admin.list_topics(timeout=_TIMEOUT_S).topics, run)


def delete_run_topics(bootstrap_servers: str, run: str) -> list[str]:
    """Delete every topic whose name holds ``bench-<run>-``: the bench's, and the peers'
    sinks and internal topics (Quix puts its consumer group inside the name)."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    marker = f"bench-{run}-"
    names = [name for name in admin.list_topics(timeout=_TIMEOUT_S).topics if marker in name]
    if names:
        for future in admin.delete_topics(names).values():
            future.result()
    return names
