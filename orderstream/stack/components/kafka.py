"""Kafka 4.1.1: 3 nodes in KRaft combined mode (broker + controller voter each), RF 3.

The nodes are one component: they share a cluster id, are formatted together, stop together
(a node left alone without a controller quorum cannot finish its controlled shutdown), and
the contract's topics are created once all three are in the cluster metadata.
"""

from __future__ import annotations

import base64
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from orderstream.poll import NotReady, wait_for
from orderstream.stack import render
from orderstream.stack.components.base import (
    Check,
    Component,
    File,
    Port,
    Program,
    StackError,
    port_open,
)
from orderstream.stack.components.jvm import jvm_command
from orderstream.stack.kafka_admin import (
    MIN_INSYNC_REPLICAS,
    QUIET_LOGGER,
    admin_client,
    describe_cluster,
    ensure_topics,
    stack_topics,
)

NODE_IDS = (1, 2, 3)

#: Kafka class names (Kafka 4 runs KRaft only).
KAFKA_MAIN = "kafka.Kafka"
STORAGE_TOOL_MAIN = "kafka.tools.StorageTool"
QUORUM_TOOL_MAIN = "org.apache.kafka.tools.MetadataQuorumCommand"

#: A voter that has not caught up with the leader for this long is unhealthy.
QUORUM_MAX_CATCH_UP_AGE_MS = 15_000


def probe_broker(address: str, timeout: float = 5.0) -> int:
    """The id of the broker that answers a metadata request at ``address`` (only that one is
    bootstrapped, so a survivor cannot answer for it); raises KafkaException when none does."""
    client = AdminClient(
        {"bootstrap.servers": address, "socket.timeout.ms": 5000, "logger": QUIET_LOGGER}
    )
    return int(client.list_topics(timeout=timeout).orig_broker_id)


def program_name(node_id: int) -> str:
    return f"kafka-{node_id}"


def new_cluster_id(random_bytes: Callable[[], bytes] = lambda: uuid.uuid4().bytes) -> str:
    """A KRaft cluster id: 16 random bytes in URL-safe base64, never starting with "-".

    One id in 64 would otherwise start with "-", and the storage tool reads such a value
    after `--cluster-id` as an option of its own ("expected one argument"). Kafka's
    `Uuid.randomUuid()` draws again in that case too.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(random_bytes()).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaCluster(Component):
    name = "kafka"

    def node_properties(self, node_id: int) -> dict[str, render.Value]:
        """server.properties of one combined broker+controller node (3 voters, static quorum)."""
        s, i, host = self.settings, NODE_IDS.index(node_id), self.settings.host
        voters = ",".join(
            f"{nid}@{host}:{port}" for nid, port in zip(NODE_IDS, s.controller_ports, strict=True)
        )
        return {
            "process.roles": "broker,controller",
            "node.id": node_id,
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://{host}:{s.broker_ports[i]},"
            f"CONTROLLER://{host}:{s.controller_ports[i]}",
            "advertised.listeners": f"PLAINTEXT://{host}:{s.broker_ports[i]}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": self.layout.kafka_data(node_id),
            # durability: the contract's replication and ISR rules
            "default.replication.factor": 3,
            "min.insync.replicas": MIN_INSYNC_REPLICAS,
            "unclean.leader.election.enable": False,
            "offsets.topic.replication.factor": 3,
            "transaction.state.log.replication.factor": 3,
            "transaction.state.log.min.isr": 2,
            "share.coordinator.state.topic.replication.factor": 3,
            "share.coordinator.state.topic.min.isr": 2,
            "auto.create.topics.enable": False,
            "num.partitions": 3,
            # sized for a 2-core machine running three nodes side by side
            "num.network.threads": 2,
            "num.io.threads": 2,
            "num.recovery.threads.per.data.dir": 1,
            "background.threads": 2,
            "log.cleaner.threads": 1,
            "group.initial.rebalance.delay.ms": 0,
            "log.retention.hours": 168,
            "log.segment.bytes": 64 * 1024 * 1024,
        }

    def node_command(self, node_id: int) -> list[str]:
        i = NODE_IDS.index(node_id)
        return jvm_command(
            self.layout,
            main_class=KAFKA_MAIN,
            args=[str(self.layout.kafka_config(node_id))],
            heap=self.settings.kafka_heap,
            jmx=(self.settings.host, self.settings.broker_jmx_ports[i]),
            jmx_rules="kafka",
            log_dir_name=program_name(node_id),
        )

    def files(self) -> list[File]:
        return [
            File(self.layout.kafka_config(n), render.properties(self.node_properties(n)))
            for n in NODE_IDS
        ]

    def programs(self) -> list[Program]:
        return [Program(program_name(n), self.node_command(n), stopwaitsecs=60) for n in NODE_IDS]

    def ports(self) -> list[Port]:
        s = self.settings
        ports = []
        for i, node_id in enumerate(NODE_IDS):
            name = program_name(node_id)
            ports += [
                Port(s.broker_ports[i], "ORDERSTREAM_KAFKA_PORTS", name),
                Port(s.controller_ports[i], "ORDERSTREAM_KAFKA_CONTROLLER_PORTS", name),
                Port(s.broker_jmx_ports[i], "ORDERSTREAM_KAFKA_JMX_PORTS", name),
            ]
        return ports

    def check_installed(self) -> None:
        for path, what in (
            (self.layout.kafka_libs, "Kafka jars"),
            (self.layout.jmx_agent, "JMX exporter agent"),
        ):
            if not path.exists():
                raise StackError(f"{what} missing at {path}: run scripts/start.sh to install them")
        self.ctx.tool("java")

    def cluster_id(self) -> str:
        path = self.layout.cluster_id_file
        if path.exists():
            return path.read_text().strip()
        cluster_id = new_cluster_id()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cluster_id + "\n")
        return cluster_id

    def format_command(self, cluster_id: str, node_config: Path) -> list[str]:
        """The storage tool's command formatting one node's log directory.

        `--cluster-id=ID` in one argument: an id starting with "-" (as one written by an
        earlier version may) would otherwise be read as an option.
        """
        return [
            self.ctx.tool("java"),
            "-cp",
            f"{self.layout.kafka_libs}/*",
            f"-Dlog4j2.configurationFile={self.layout.log4j2_config}",
            STORAGE_TOOL_MAIN,
            "format",
            f"--cluster-id={cluster_id}",
            "--config",
            str(node_config),
            "--ignore-formatted",
        ]

    def prepare(self) -> None:
        """Format each node's storage once, all with the same cluster id."""
        cluster_id = self.cluster_id()
        for node_id in NODE_IDS:
            if (self.layout.kafka_data(node_id) / "meta.properties").exists():
                continue
            self.ctx.say(f"formatting storage of {program_name(node_id)}")
            result = subprocess.run(
                self.format_command(cluster_id, self.layout.kafka_config(node_id)),
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise StackError(
                    f"formatting {program_name(node_id)} storage failed: "
                    f"{result.stderr.strip()[-500:]}"
                )

    def wait_ready(self) -> None:
        admin = admin_client(self.settings)

        def all_brokers() -> None:
            view = describe_cluster(admin)
            if len(view.broker_ids) < len(NODE_IDS):
                raise NotReady(f"brokers in cluster: {sorted(view.broker_ids)}")

        wait_for(
            f"{len(NODE_IDS)} Kafka brokers in the cluster metadata",
            all_brokers,
            timeout=120,
            retry_on=(KafkaException,),
        )

    def after_start(self) -> None:
        for note in ensure_topics(admin_client(self.settings), stack_topics(self.settings)):
            self.ctx.say(note)

    def checks(self) -> list[Check]:
        brokers = self.broker_checks()
        alive = {n for n, c in zip(NODE_IDS, brokers, strict=True) if c.healthy}
        return [*brokers, self.quorum_check(alive), self.isr_check(alive)]

    def broker_checks(self) -> list[Check]:
        """Each broker asked through its own listener: metadata from a survivor says nothing
        about whether another node is up."""
        s = self.settings
        checks = []
        for node_id, port in zip(NODE_IDS, s.broker_ports, strict=True):
            address = f"{s.host}:{port}"
            try:
                answered_by = probe_broker(address)
            except KafkaException as exc:
                reason = f"broker {node_id} does not answer at {address} ({exc.args[0].str()})"
                checks.append(Check(program_name(node_id), False, reason))
                continue
            healthy = answered_by == node_id
            detail = f"broker {node_id} answers at {address}"
            if not healthy:
                detail = f"{address} answered as broker {answered_by}, not {node_id}"
            checks.append(Check(program_name(node_id), healthy, detail))
        return checks

    def isr_check(self, alive: set[int]) -> Check:
        """Partitions with fewer live in-sync replicas than min.insync.replicas block acks=all
        producers. Only replicas on brokers that answer now count: without a controller
        quorum the metadata keeps listing stopped brokers in the ISR."""
        try:
            meta = admin_client(self.settings).list_topics(timeout=5)
        except KafkaException as exc:
            return Check("kafka-isr", False, f"no broker answers ({exc.args[0].str()})")
        under = sorted(
            f"{name}[{index}]"
            for name, topic in meta.topics.items()
            for index, part in topic.partitions.items()
            if len(set(part.isrs) & alive) < MIN_INSYNC_REPLICAS
        )
        if under:
            shown = ", ".join(under[:6]) + (f" and {len(under) - 6} more" if len(under) > 6 else "")
            detail = (
                f"{len(under)} partition(s) under min.insync.replicas={MIN_INSYNC_REPLICAS}, "
                f"writes with acks=all block: {shown}"
            )
            return Check("kafka-isr", False, detail)
        return Check("kafka-isr", True, f"every partition has >= {MIN_INSYNC_REPLICAS} in sync")

    def quorum_check(self, alive: set[int] | None = None) -> Check:
        s = self.settings
        controllers = ",".join(f"{s.host}:{p}" for p in s.controller_ports)
        if not any(port_open(s.host, p) for p in s.controller_ports):
            return Check("kraft-quorum", False, f"no controller listens at {controllers}")
        with tempfile.NamedTemporaryFile("w", suffix=".properties") as client_config:
            client_config.write(
                render.properties({"request.timeout.ms": 5000, "default.api.timeout.ms": 10000})
            )
            client_config.flush()
            return self._query_quorum(controllers, client_config.name, alive)

    def _query_quorum(self, controllers: str, client_config: str, alive: set[int] | None) -> Check:
        try:
            result = subprocess.run(
                [
                    "java",
                    "-Xmx128m",
                    "-XX:TieredStopAtLevel=1",
                    "-cp",
                    f"{self.layout.kafka_libs}/*",
                    f"-Dlog4j2.configurationFile={self.layout.log4j2_config}",
                    "-Dlog4j2.level=ERROR",
                    QUORUM_TOOL_MAIN,
                    "--bootstrap-controller",
                    controllers,
                    "--command-config",
                    client_config,
                    "describe",
                    "--replication",
                ],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except OSError as exc:
            return Check("kraft-quorum", False, f"cannot run the quorum query: {exc}")
        except subprocess.TimeoutExpired:
            return Check(
                "kraft-quorum", False, f"controllers at {controllers} did not answer in 30s"
            )
        table = "\n".join(ln for ln in result.stdout.splitlines() if not ln.startswith("["))
        if result.returncode != 0 or "NodeId" not in table:
            last = (result.stderr.strip().splitlines() or ["no answer"])[-1]
            return Check("kraft-quorum", False, f"no controller answers at {controllers}: {last}")
        try:
            replicas = parse_quorum_replication(table[table.index("NodeId") :])
        except ValueError as exc:
            return Check("kraft-quorum", False, str(exc))
        return judge_quorum(replicas, int(time.time() * 1000), alive=alive)

    def purge_paths(self) -> list[Path]:
        return [self.layout.kafka_data(n) for n in NODE_IDS] + [self.layout.cluster_id_file]

    def where(self) -> list[tuple[str, str]]:
        return [("Kafka bootstrap", self.settings.bootstrap_servers)]


@dataclass(frozen=True)
class QuorumReplica:
    node_id: int
    lag: int
    last_caught_up_ms: int
    status: str  # Leader, Follower, Observer


def parse_quorum_replication(output: str) -> list[QuorumReplica]:
    """Parse `MetadataQuorumCommand describe --replication` (a whitespace-separated table)."""
    lines = [ln.split() for ln in output.splitlines() if ln.strip()]
    if not lines or lines[0][0] != "NodeId":
        raise ValueError(f"unexpected quorum output: {output[:200]!r}")
    header = lines[0]
    idx = {col: i for i, col in enumerate(header)}
    replicas = []
    for cols in lines[1:]:
        if len(cols) != len(header):
            continue
        replicas.append(
            QuorumReplica(
                node_id=int(cols[idx["NodeId"]]),
                lag=int(cols[idx["Lag"]]),
                last_caught_up_ms=int(cols[idx["LastCaughtUpTimestamp"]]),
                status=cols[idx["Status"]],
            )
        )
    return replicas


def judge_quorum(
    replicas: list[QuorumReplica], now_ms: int, voters: int = 3, alive: set[int] | None = None
) -> Check:
    """A voter counts when it caught up recently and, if ``alive`` is given, answers now (a
    stopped voter keeps a recent catch-up time for a while)."""
    leaders = [r for r in replicas if r.status == "Leader"]
    followers = [r for r in replicas if r.status == "Follower"]
    if not leaders:
        return Check("kraft-quorum", False, "no quorum leader")
    stale = [
        r.node_id
        for r in followers
        if now_ms - r.last_caught_up_ms > QUORUM_MAX_CATCH_UP_AGE_MS
        or (alive is not None and r.node_id not in alive)
    ]
    caught_up = 1 + len(followers) - len(stale)
    healthy = caught_up == voters and len(followers) == voters - 1
    detail = f"leader {leaders[0].node_id}, {caught_up}/{voters} voters caught up"
    if stale:
        detail += f" (behind: {', '.join(map(str, stale))})"
    return Check("kraft-quorum", healthy, detail)
