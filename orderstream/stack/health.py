"""`orderstream status`: check each component for real and report one line per component.

Nothing here trusts the supervisor's idea of "running": a broker is healthy when it is in the
cluster metadata, the controller quorum when it has a leader and three caught-up voters, a
Connect worker when its REST API answers, the connector when it and its task are RUNNING,
MariaDB when it answers a query with the binlog settings Debezium needs.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pymysql
from confluent_kafka import KafkaException

from orderstream.settings import Settings
from orderstream.stack import render
from orderstream.stack.connect import ConnectClient, ConnectError
from orderstream.stack.kafka_admin import admin_client, describe_cluster
from orderstream.stack.layout import Layout

CDC_CONNECTOR = "orders-cdc"
#: A voter that has not caught up with the leader for this long is unhealthy.
QUORUM_MAX_CATCH_UP_AGE_MS = 15_000


@dataclass(frozen=True)
class Check:
    component: str
    healthy: bool
    detail: str


def check_mariadb(settings: Settings) -> list[Check]:
    name = "mariadb"
    try:
        conn = pymysql.connect(
            host=settings.host,
            port=settings.db_port,
            user=settings.db_app_user,
            password=settings.db_app_password,
            connect_timeout=3,
        )
    except pymysql.MySQLError as exc:
        return [
            Check(
                name, False, f"{settings.host}:{settings.db_port} does not answer: {exc.args[-1]}"
            )
        ]
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@server_id")
            row = cur.fetchone()
    finally:
        conn.close()
    assert row is not None
    log_bin, fmt, image, server_id = int(row[0]), str(row[1]), str(row[2]), int(row[3])
    binlog_ok = log_bin == 1 and fmt == "ROW" and image == "FULL" and server_id > 0
    detail = (
        f"{settings.host}:{settings.db_port} answers; binlog {'ON' if log_bin else 'OFF'}, "
        f"format {fmt}, row image {image}, server_id {server_id}"
    )
    return [Check(name, binlog_ok, detail)]


def check_brokers(settings: Settings) -> list[Check]:
    node_ids = render.KAFKA_NODE_IDS
    try:
        view = describe_cluster(admin_client(settings), timeout=5)
    except KafkaException as exc:
        reason = f"no broker answers at {settings.bootstrap_servers} ({exc.args[0].str()})"
        return [Check(f"kafka-{n}", False, reason) for n in node_ids]
    checks = []
    for node_id, port in zip(node_ids, settings.broker_ports, strict=True):
        present = node_id in view.broker_ids
        detail = (
            f"broker {node_id} in cluster metadata ({settings.host}:{port})"
            if present
            else f"broker {node_id} missing from cluster metadata ({settings.host}:{port})"
        )
        checks.append(Check(f"kafka-{node_id}", present, detail))
    return checks


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


def judge_quorum(replicas: list[QuorumReplica], now_ms: int, voters: int = 3) -> Check:
    leaders = [r for r in replicas if r.status == "Leader"]
    followers = [r for r in replicas if r.status == "Follower"]
    if not leaders:
        return Check("kraft-quorum", False, "no quorum leader")
    stale = [
        r.node_id for r in followers if now_ms - r.last_caught_up_ms > QUORUM_MAX_CATCH_UP_AGE_MS
    ]
    caught_up = 1 + len(followers) - len(stale)
    healthy = caught_up == voters and len(followers) == voters - 1
    detail = f"leader {leaders[0].node_id}, {caught_up}/{voters} voters caught up"
    if stale:
        detail += f" (behind: {', '.join(map(str, stale))})"
    return Check("kraft-quorum", healthy, detail)


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def check_quorum(settings: Settings) -> list[Check]:
    layout = Layout(settings.runtime_dir)
    controllers = ",".join(f"{settings.host}:{p}" for p in settings.controller_ports)
    if not any(port_open(settings.host, p) for p in settings.controller_ports):
        return [Check("kraft-quorum", False, f"no controller listens at {controllers}")]
    with tempfile.NamedTemporaryFile("w", suffix=".properties") as client_config:
        client_config.write("request.timeout.ms=5000\ndefault.api.timeout.ms=10000\n")
        client_config.flush()
        return [_query_quorum(layout, controllers, client_config.name)]


def _query_quorum(layout: Layout, controllers: str, client_config: str) -> Check:
    try:
        result = subprocess.run(
            [
                "java",
                "-Xmx128m",
                "-XX:TieredStopAtLevel=1",
                "-cp",
                f"{layout.kafka_libs}/*",
                f"-Dlog4j2.configurationFile={layout.log4j2_config}",
                "-Dlog4j2.level=ERROR",
                render.QUORUM_TOOL_MAIN,
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
        return Check("kraft-quorum", False, f"controllers at {controllers} did not answer in 30s")
    table = "\n".join(ln for ln in result.stdout.splitlines() if not ln.startswith("["))
    if result.returncode != 0 or "NodeId" not in table:
        last = (result.stderr.strip().splitlines() or ["no answer"])[-1]
        return Check("kraft-quorum", False, f"no controller answers at {controllers}: {last}")
    try:
        replicas = parse_quorum_replication(table[table.index("NodeId") :])
    except ValueError as exc:
        return Check("kraft-quorum", False, str(exc))
    return judge_quorum(replicas, int(time.time() * 1000))


def check_connect(settings: Settings) -> list[Check]:
    checks = []
    for worker_id, url in zip(render.CONNECT_WORKER_IDS, settings.connect_urls, strict=True):
        try:
            info = ConnectClient(url).worker_info()
            checks.append(
                Check(
                    f"connect-{worker_id}",
                    True,
                    f"{url} answers (Kafka Connect {info.get('version')})",
                )
            )
        except ConnectError as exc:
            checks.append(Check(f"connect-{worker_id}", False, str(exc)))
    return checks


def check_connector(settings: Settings) -> list[Check]:
    name = f"connector {CDC_CONNECTOR}"
    last_error = "no Connect worker answers"
    for url in settings.connect_urls:
        try:
            status = ConnectClient(url).status(CDC_CONNECTOR)
        except ConnectError as exc:
            last_error = str(exc)
            continue
        if status is None:
            return [Check(name, False, "not registered (scripts/start.sh registers it)")]
        tasks = ", ".join(f"task {t[0]} {t[1]} on {t[2]}" for t in status.tasks) or "no tasks"
        detail = f"{status.state} on {status.worker_id}; {tasks}"
        failure = status.failure()
        if failure:
            detail += f"; {failure}"
        return [Check(name, status.running, detail)]
    return [Check(name, False, last_error)]


def check_dataflow(settings: Settings) -> list[Check]:
    url = f"http://{settings.host}:{settings.dataflow_metrics_port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            text = resp.read().decode()
    except OSError as exc:
        return [Check("dataflow", False, f"metrics endpoint {url} does not answer: {exc}")]
    events_in = metric_sum(text, "orders_events_in_total")
    if events_in is None:
        return [Check("dataflow", False, f"{url} serves no orders_events_in_total")]
    return [Check("dataflow", True, f"serving {url}; {events_in:.0f} change events read")]


def metric_sum(text: str, name: str) -> float | None:
    """Sum of a metric's samples in Prometheus text format (None when absent)."""
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and line[len(name) : len(name) + 1] in {" ", "{"}
    ]
    return sum(values) if values else None


CHECKS: tuple[Callable[[Settings], list[Check]], ...] = (
    check_mariadb,
    check_brokers,
    check_quorum,
    check_connect,
    check_connector,
    check_dataflow,
)


def check_all(settings: Settings) -> list[Check]:
    """Run every check (concurrently: the quorum query starts a JVM) in a stable order."""
    with ThreadPoolExecutor(max_workers=len(CHECKS)) as pool:
        futures = [pool.submit(check, settings) for check in CHECKS]
        return [c for f in futures for c in f.result()]


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


def print_report(checks: list[Check]) -> int:
    print(format_report(checks), flush=True)
    return 0 if all(c.healthy for c in checks) else 1
