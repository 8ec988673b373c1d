"""The Kafka dashboard: nodes, KRaft quorum and controller, partition health, traffic per
topic, request latency (metric names: stack/jmx/kafka.yml)."""

from __future__ import annotations

from orderstream.monitoring.dashboards.common import Board, Query, rate

K = 'job="kafka"'
KI = 'job="kafka", instance=~"$instance"'
#: The requests worth watching in this pipeline (Kafka exports ~90 request types).
REQUESTS = "Produce|FetchConsumer|FetchFollower|Metadata|OffsetCommit|ListOffsets"


def build() -> Board:
    board = Board(
        title="orderstream / Kafka",
        uid="orderstream-kafka",
        description="The 3 Kafka nodes (broker + KRaft controller each): quorum, controller, "
        "partition health, traffic per topic, request latency.",
    )
    board.variable("instance", "Node", f"label_values(up{{{K}}}, instance)")
    board.variable("topic", "Topic", f"label_values(kafka_topic_bytes_in_total{{{K}}}, topic)")

    board.row("Cluster")
    board.stat(
        "Nodes up",
        "Kafka nodes whose JMX exporter answers (alert: KafkaBrokerDown).",
        [Query(f"sum(up{{{K}}})", "up")],
        thresholds=((None, "red"), (2, "orange"), (3, "green")),
    )
    board.stat(
        "Active controllers",
        "Must be exactly 1 (alert: KafkaNoActiveController).",
        [Query(f"sum(kafka_controller_active_controller_count{{{K}}})", "active")],
        thresholds=((None, "red"), (1, "green"), (2, "red")),
    )
    board.stat(
        "Quorum leader",
        "Node id of the KRaft quorum leader (-1: unknown; alert: KafkaQuorumAtRisk).",
        [Query(f"max(kafka_raft_current_leader{{{K}}})", "leader")],
        thresholds=((None, "red"), (1, "green")),
    )
    board.stat(
        "Offline partitions",
        "Partitions without a leader (alert: KafkaOfflinePartitions).",
        [Query(f"sum(kafka_controller_offline_partitions{{{K}}})", "offline")],
        thresholds=((None, "green"), (1, "red")),
    )
    board.stat(
        "Under min ISR",
        "Partitions with fewer in-sync replicas than min.insync.replicas "
        "(alert: KafkaUnderMinIsr).",
        [Query(f"sum(kafka_server_under_min_isr_partitions{{{K}}})", "under min ISR")],
        thresholds=((None, "green"), (1, "red")),
    )
    board.stat(
        "Under-replicated",
        "Partitions with a replica out of sync (alert: KafkaUnderReplicated).",
        [Query(f"sum(kafka_server_under_replicated_partitions{{{K}}})", "under-replicated")],
        thresholds=((None, "green"), (1, "orange")),
    )

    board.row("Controller and quorum")
    board.timeseries(
        "KRaft state per node",
        "1 for the node's current role in the metadata quorum (leader, follower, candidate...).",
        [Query(f"max by (instance, state) (kafka_raft_state{{{KI}}})", "{{instance}} {{state}}")],
        stacked=True,
    )
    board.timeseries(
        "Metadata log: epoch and commit latency",
        "Quorum epoch (a change means a new leader election) and the leader's commit latency.",
        [
            Query(f"max(kafka_raft_current_epoch{{{K}}})", "epoch"),
            Query(
                f"max by (instance) (kafka_raft_commit_latency_avg_ms{{{KI}}} >= 0)",
                "commit latency ms {{instance}}",
            ),
        ],
    )
    board.timeseries(
        "Brokers seen by the controller",
        "Active and fenced brokers registered with the active controller.",
        [
            Query(f"max(kafka_controller_active_brokers{{{K}}})", "active"),
            Query(f"max(kafka_controller_fenced_brokers{{{K}}})", "fenced"),
        ],
    )
    board.timeseries(
        "Partition health per node",
        "Under-replicated and under-min-ISR partitions led by each node, offline partitions.",
        [
            Query(
                f"sum by (instance) (kafka_server_under_replicated_partitions{{{KI}}})",
                "under-replicated {{instance}}",
            ),
            Query(
                f"sum by (instance) (kafka_server_under_min_isr_partitions{{{KI}}})",
                "under min ISR {{instance}}",
            ),
            Query(f"sum(kafka_controller_offline_partitions{{{K}}})", "offline"),
        ],
    )
    board.timeseries(
        "Leaders per node",
        "Partition leaderships per node (uneven after a node restart until leaders rebalance).",
        [Query(f"sum by (instance) (kafka_server_leader_partitions{{{KI}}})", "{{instance}}")],
    )
    board.timeseries(
        "ISR shrinks and expands",
        "Replicas leaving and rejoining in-sync replica sets.",
        [
            Query(
                rate(f"kafka_server_isr_shrinks_total{{{KI}}}", by="instance"),
                "shrinks {{instance}}",
            ),
            Query(
                rate(f"kafka_server_isr_expands_total{{{KI}}}", by="instance"),
                "expands {{instance}}",
            ),
        ],
        unit="ops",
    )

    board.row("Traffic per topic")
    topic = f'{K}, topic=~"$topic"'
    board.timeseries(
        "Bytes in per topic",
        "Bytes produced to each topic (all nodes, leaders only).",
        [Query(rate(f"kafka_topic_bytes_in_total{{{topic}}}", by="topic"), "{{topic}}")],
        unit="Bps",
    )
    board.timeseries(
        "Bytes out per topic",
        "Bytes fetched by consumers from each topic (replication excluded).",
        [Query(rate(f"kafka_topic_bytes_out_total{{{topic}}}", by="topic"), "{{topic}}")],
        unit="Bps",
    )
    board.timeseries(
        "Messages in per topic",
        "Records produced to each topic.",
        [Query(rate(f"kafka_topic_messages_in_total{{{topic}}}", by="topic"), "{{topic}}")],
        unit="ops",
    )
    board.timeseries(
        "Bytes in and out per node",
        "All topics, per node, replication traffic in shown apart.",
        [
            Query(rate(f"kafka_server_bytes_in_total{{{KI}}}", by="instance"), "in {{instance}}"),
            Query(rate(f"kafka_server_bytes_out_total{{{KI}}}", by="instance"), "out {{instance}}"),
            Query(
                rate(f"kafka_server_replication_bytes_in_total{{{KI}}}", by="instance"),
                "replication in {{instance}}",
            ),
        ],
        unit="Bps",
    )

    board.row("Requests")
    board.timeseries(
        "Request latency p99",
        "99th percentile total time of the main requests, worst node.",
        [
            Query(
                f'max by (request) (kafka_network_request_time_ms{{{KI}, quantile="0.99", '
                f'request=~"{REQUESTS}"}})',
                "{{request}}",
            )
        ],
        unit="ms",
    )
    board.timeseries(
        "Requests per second",
        "Request rate of the main requests, all nodes.",
        [
            Query(
                rate(f'kafka_network_requests_total{{{KI}, request=~"{REQUESTS}"}}', by="request"),
                "{{request}}",
            )
        ],
        unit="reqps",
    )
    board.timeseries(
        "Network threads idle",
        "Share of time the network threads are idle (low: the node is saturated).",
        [Query(f"max by (instance) (kafka_network_processor_idle_ratio{{{KI}}})", "{{instance}}")],
        unit="percentunit",
    )
    board.timeseries(
        "JVM heap used",
        "Heap in use per node.",
        [Query(f'sum by (instance) (jvm_memory_used_bytes{{{KI}, area="heap"}})', "{{instance}}")],
        unit="bytes",
    )
    return board
