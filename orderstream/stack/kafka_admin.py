"""Kafka administration for the stack: cluster metadata and the contract's topics."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from orderstream.contract import CONTRACT_TOPICS, TopicSpec
from orderstream.settings import Settings

#: librdkafka logs every refused connection; while polling a starting cluster that is noise.
QUIET_LOGGER = logging.getLogger("orderstream.librdkafka")
QUIET_LOGGER.setLevel(logging.CRITICAL)
QUIET_LOGGER.propagate = False


#: The contract's min.insync.replicas (the brokers' default and every stack topic's config).
MIN_INSYNC_REPLICAS = 2
#: The topic config that caps a record batch (contract.TopicSpec.max_message_bytes).
MAX_MESSAGE_BYTES = "max.message.bytes"


def admin_client(settings: Settings) -> AdminClient:
    return AdminClient(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "socket.timeout.ms": 5000,
            "logger": QUIET_LOGGER,
        }
    )


@dataclass(frozen=True)
class ClusterView:
    broker_ids: frozenset[int]
    controller_id: int


def describe_cluster(admin: AdminClient, timeout: float = 5.0) -> ClusterView:
    meta = admin.list_topics(timeout=timeout)
    return ClusterView(frozenset(meta.brokers), int(meta.controller_id))


def topic_end_total(settings: Settings, topic: str) -> int:
    """Sum of a topic's end offsets: how many records it ever received (-1 when Kafka does
    not answer or the topic is missing)."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": "orderstream-probe",
            "logger": QUIET_LOGGER,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=5).topics[topic].partitions
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1]
            for p in partitions
        )
    except Exception:  # a probe: the callers' other checks name what is down
        return -1
    finally:
        consumer.close()


def stack_topics(settings: Settings) -> list[TopicSpec]:
    """The contract's topics under their configured names."""
    names = settings.topics.by_contract_name()
    return [replace(t, name=names[t.name]) for t in CONTRACT_TOPICS]


def topic_config(spec: TopicSpec) -> dict[str, str]:
    config = {
        "cleanup.policy": spec.cleanup_policy,
        "min.insync.replicas": str(MIN_INSYNC_REPLICAS),
    }
    if spec.retention_ms is not None:
        config["retention.ms"] = str(spec.retention_ms)
        if spec.retention_ms < 0:
            config["retention.bytes"] = "-1"
    if spec.max_message_bytes is not None:
        config[MAX_MESSAGE_BYTES] = str(spec.max_message_bytes)
    return config


def ensure_topics(
    admin: AdminClient, specs: list[TopicSpec], replication_factor: int = 3
) -> list[str]:
    """Create missing topics; return human-readable notes on what was done or found off."""
    notes: list[str] = []
    existing = admin.list_topics(timeout=10).topics
    missing = [s for s in specs if s.name not in existing]
    if missing:
        futures = admin.create_topics(
            [
                NewTopic(s.name, s.partitions, replication_factor, config=topic_config(s))
                for s in missing
            ],
            operation_timeout=30,
        )
        for name, future in futures.items():
            try:
                future.result()
                notes.append(f"created topic {name}")
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise
    for spec in specs:
        if spec.name in existing:
            partitions = len(existing[spec.name].partitions)
            if partitions != spec.partitions:
                notes.append(
                    f"topic {spec.name} has {partitions} partitions, the contract says "
                    f"{spec.partitions}: left as it is"
                )
    notes += raise_batch_limits(admin, [s for s in specs if s.name in existing])
    return notes


def raise_batch_limits(admin: AdminClient, specs: list[TopicSpec]) -> list[str]:
    """Raise ``max.message.bytes`` of existing topics to their spec's where it is lower (a
    topic created before the spec had one); never lowers it. Returns a note per change."""
    wanted = {s.name: s.max_message_bytes for s in specs if s.max_message_bytes is not None}
    if not wanted:
        return []
    resources = [ConfigResource(ResourceType.TOPIC, name) for name in wanted]
    raise_to: dict[str, tuple[int, int]] = {}
    for resource, future in admin.describe_configs(resources).items():
        current = int(future.result()[MAX_MESSAGE_BYTES].value)
        if current < wanted[resource.name]:
            raise_to[resource.name] = (current, wanted[resource.name])
    if not raise_to:
        return []
    changes = [
        ConfigResource(
            ResourceType.TOPIC,
            name,
            incremental_configs=[
                ConfigEntry(
                    MAX_MESSAGE_BYTES, str(new), incremental_operation=AlterConfigOpType.SET
                )
            ],
        )
        for name, (_, new) in raise_to.items()
    ]
    for future in admin.incremental_alter_configs(changes).values():
        future.result()
    return [
        f"raised {MAX_MESSAGE_BYTES} of topic {name} from {old} to {new}"
        for name, (old, new) in raise_to.items()
    ]
