"""Start and stop the native stack under supervisord, in dependency order, idempotently.

``start`` renders the configuration, initialises MariaDB and Kafka storage on first use,
starts every component as a supervisor program, creates the contract's topics, registers
the CDC connector and waits until each part is healthy. On a running, healthy stack it
changes nothing and says so.
"""

from __future__ import annotations

import base64
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pymysql
from tenacity import RetryError, retry, retry_if_exception_type, stop_after_delay, wait_fixed

from orderstream.settings import Settings
from orderstream.stack import render
from orderstream.stack.connect import ConnectClient, ConnectError, ConnectorSpec, unmatched_tables
from orderstream.stack.kafka_admin import (
    admin_client,
    describe_cluster,
    ensure_topics,
    stack_topics,
)
from orderstream.stack.layout import Layout
from orderstream.stack.supervisor import Supervisor

T = TypeVar("T")

CDC_CONNECTOR_FILE = "orders-cdc.json"
KAFKA_PROGRAMS = tuple(f"kafka-{n}" for n in render.KAFKA_NODE_IDS)
CONNECT_PROGRAMS = tuple(f"connect-{n}" for n in render.CONNECT_WORKER_IDS)


class StackError(RuntimeError):
    """The stack cannot be started or stopped; the message names the component and the cause."""


def say(message: str) -> None:
    print(f"orderstream: {message}", flush=True)


def wait_for(what: str, check: Callable[[], T], timeout: float, interval: float = 0.5) -> T:
    """Poll ``check`` until it returns without raising, or fail after ``timeout`` seconds."""

    @retry(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(interval),
        retry=retry_if_exception_type(Exception),
        reraise=False,
    )
    def attempt() -> T:
        return check()

    try:
        return attempt()
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise StackError(f"timed out after {timeout:.0f}s waiting for {what}: {last}") from None


def run_as_user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def tool(name: str) -> str:
    """Absolute path of a system binary (MariaDB's live in /usr/sbin on Debian)."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        raise StackError(f"{name} is not installed: run scripts/start.sh, which installs it")
    return path


def write_if_changed(path: Path, text: str, mode: int = 0o644) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    path.chmod(mode)
    return True


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.layout = Layout(settings.runtime_dir)
        self.supervisor = Supervisor(self.layout.supervisor_socket)

    # --- configuration ----------------------------------------------------------------------

    def check_installed(self) -> None:
        layout = self.layout
        for path, what in (
            (layout.kafka_libs, "Kafka jars"),
            (layout.connect_plugins / "debezium-connector-mariadb", "Debezium MariaDB plugin"),
            (layout.jmx_agent, "JMX exporter agent"),
        ):
            if not path.exists():
                raise StackError(f"{what} missing at {path}: run scripts/start.sh to install them")
        tool("mariadbd")
        tool("java")

    def render(self) -> bool:
        """Write every rendered config; True when any file changed."""
        s, lay = self.settings, self.layout
        changed = False
        for node_id in render.KAFKA_NODE_IDS:
            text = render.properties(render.kafka_node_properties(s, lay, node_id))
            changed |= write_if_changed(lay.kafka_config(node_id), text)
        for worker_id in render.CONNECT_WORKER_IDS:
            text = render.properties(render.connect_worker_properties(s, lay, worker_id))
            changed |= write_if_changed(lay.connect_config(worker_id), text)
        changed |= write_if_changed(lay.mariadb_config, render.mariadb_cnf(s, lay))
        # holds the Connect workers' environment (credentials): owner-only
        supervisord = render.supervisord_conf(s, lay, run_as_user(), sys.executable)
        changed |= write_if_changed(lay.supervisor_config, supervisord, mode=0o600)
        return changed

    # --- supervisord --------------------------------------------------------------------------

    def start_supervisord(self) -> None:
        if self.supervisor.is_running():
            return
        self.layout.logs.mkdir(parents=True, exist_ok=True)
        supervisord = Path(sys.executable).with_name("supervisord")
        env = dict(os.environ)
        env["PATH"] = env.get("PATH", "") + ":/usr/sbin:/sbin"
        result = subprocess.run(
            [str(supervisord), "-c", str(self.layout.supervisor_config)],
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            output = (result.stderr or result.stdout).strip().splitlines()
            raise StackError(
                f"supervisord did not start: {output[0] if output else result.returncode}"
            )
        wait_for("supervisord", lambda: self.supervisor.programs(), timeout=20)

    def start_program(self, name: str) -> None:
        state = self.supervisor.program(name)
        if state.running:
            return
        self.supervisor.start(name, wait=False)

    # --- MariaDB ------------------------------------------------------------------------------

    def start_mariadb(self) -> None:
        lay = self.layout
        if not (lay.mariadb_data / "mysql").exists():
            say("initialising MariaDB data directory")
            lay.mariadb_data.mkdir(parents=True, exist_ok=True)
            (lay.mariadb_dir / "binlog").mkdir(parents=True, exist_ok=True)
            result = subprocess.run(
                [
                    tool("mariadb-install-db"),
                    f"--defaults-file={lay.mariadb_config}",
                    f"--user={run_as_user()}",
                    "--auth-root-authentication-method=socket",
                    "--skip-test-db",
                ],
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise StackError(f"mariadb-install-db failed: {result.stderr.strip()[-500:]}")
        self.start_program("mariadb")
        wait_for("MariaDB to accept connections", self._mariadb_ping, timeout=60)
        if not lay.mariadb_initialized_marker.exists():
            self.apply_mysql_init()
            lay.mariadb_initialized_marker.write_text("mysql-init applied\n")

    def _mariadb_ping(self) -> None:
        result = subprocess.run(
            [tool("mariadb-admin"), f"--socket={self.layout.mariadb_socket}", "ping"],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise StackError(result.stderr.strip() or result.stdout.strip())

    def apply_mysql_init(self) -> None:
        """Apply mysql-init/*.sql as the socket-authenticated administrator (setup only)."""
        init = self.layout.mysql_init
        for path in sorted(init.glob("*.sql")):
            sql = path.read_text()
            if path.name.endswith("users.sql"):
                sql = render.users_sql(sql, self.settings, quote_sql_string)
            result = subprocess.run(
                [tool("mariadb"), f"--socket={self.layout.mariadb_socket}", "--user=root"],
                input=sql,
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise StackError(f"applying {path.name} to MariaDB failed: {result.stderr.strip()}")
            say(f"applied mysql-init/{path.name}")

    # --- Kafka --------------------------------------------------------------------------------

    def cluster_id(self) -> str:
        path = self.layout.cluster_id_file
        if path.exists():
            return path.read_text().strip()
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cluster_id + "\n")
        return cluster_id

    def format_kafka_storage(self) -> None:
        cluster_id = self.cluster_id()
        for node_id in render.KAFKA_NODE_IDS:
            if (self.layout.kafka_data(node_id) / "meta.properties").exists():
                continue
            say(f"formatting storage of kafka-{node_id}")
            result = subprocess.run(
                [
                    tool("java"),
                    "-cp",
                    f"{self.layout.kafka_libs}/*",
                    f"-Dlog4j2.configurationFile={self.layout.log4j2_config}",
                    render.STORAGE_TOOL_MAIN,
                    "format",
                    "--cluster-id",
                    cluster_id,
                    "--config",
                    str(self.layout.kafka_config(node_id)),
                    "--ignore-formatted",
                ],
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise StackError(
                    f"formatting kafka-{node_id} storage failed: {result.stderr.strip()[-500:]}"
                )

    def start_kafka(self) -> None:
        self.format_kafka_storage()
        for name in KAFKA_PROGRAMS:
            self.start_program(name)
        for note in self.ensure_topics():
            say(note)

    def ensure_topics(self, timeout: float = 120) -> list[str]:
        """Wait for the 3 brokers in the cluster metadata, then create the missing topics.

        Also what the compose stack's one-shot `orderstream topics create` runs.
        """
        admin = admin_client(self.settings)

        def all_brokers() -> None:
            view = describe_cluster(admin)
            if len(view.broker_ids) < len(KAFKA_PROGRAMS):
                raise StackError(f"brokers in cluster: {sorted(view.broker_ids)}")

        wait_for("3 Kafka brokers in the cluster metadata", all_brokers, timeout=timeout)
        return ensure_topics(admin, stack_topics(self.settings))

    # --- Connect ------------------------------------------------------------------------------

    def start_connect(self) -> None:
        for name in CONNECT_PROGRAMS:
            self.start_program(name)
        for url in self.settings.connect_urls:
            client = ConnectClient(url)
            wait_for(f"Connect worker {url}", client.worker_info, timeout=180, interval=1)
        plugin_class = "io.debezium.connector.mariadb.MariaDbConnector"
        client = ConnectClient(self.settings.connect_url)

        def plugin_loaded() -> None:
            if plugin_class not in client.plugins():
                raise StackError(f"{plugin_class} not in the worker's plugins")

        wait_for("the Debezium MariaDB plugin", plugin_loaded, timeout=30)

    def register_connector(
        self, spec: ConnectorSpec, timeout: float = 120, connect_url: str | None = None
    ) -> str:
        """PUT the connector's config (idempotent) and wait until it and its task run.

        ``connect_url`` is the worker to talk to; the first local worker when None.
        """
        self.check_tables(spec)
        client = ConnectClient(connect_url or self.settings.connect_url)
        current = client.get_config(spec.name)
        if current is not None and current == {**spec.config, "name": spec.name}:
            outcome = "unchanged"
        else:
            errors = client.validate(spec)
            if errors:
                raise ConnectError(f"connector {spec.name} is misconfigured: " + "; ".join(errors))
            outcome = "created" if client.put_config(spec) else "updated"
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            status = client.status(spec.name)
            if status is not None:
                if status.running:
                    return outcome
                failure = status.failure()
                if failure is not None:
                    raise ConnectError(f"connector {spec.name}: {failure}")
            time.sleep(1)
        raise ConnectError(
            f"connector {spec.name} not RUNNING after {timeout:.0f}s (last status: {status})"
        )

    def check_tables(self, spec: ConnectorSpec) -> None:
        """Fail clearly when table.include.list names no existing table (Debezium would idle)."""
        include = spec.table_include_list()
        if not include:
            return
        try:
            conn = pymysql.connect(
                host=self.settings.host,
                port=self.settings.db_port,
                user=self.settings.db_app_user,
                password=self.settings.db_app_password,
                connect_timeout=5,
            )
        except pymysql.MySQLError as exc:
            raise StackError(
                f"MariaDB at {self.settings.host}:{self.settings.db_port}: {exc}"
            ) from exc
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables"
                )
                existing = [str(row[0]) for row in cur.fetchall()]
        finally:
            conn.close()
        missing = unmatched_tables(include, existing)
        if missing:
            raise ConnectError(
                f"connector {spec.name}: table.include.list entries match no table in MariaDB: "
                + ", ".join(missing)
            )

    # --- dataflow -----------------------------------------------------------------------------

    def start_dataflow(self) -> None:
        recovery = self.layout.recovery
        if not recovery.exists():
            say(f"initialising {render.RECOVERY_PARTITIONS} Bytewax recovery partitions")
            recovery.mkdir(parents=True)
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bytewax.recovery",
                    str(recovery),
                    str(render.RECOVERY_PARTITIONS),
                ],
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                shutil.rmtree(recovery, ignore_errors=True)
                raise StackError(
                    f"initialising recovery partitions failed: {result.stderr.strip()}"
                )
        self.start_program("dataflow")
        url = f"http://{self.settings.host}:{self.settings.dataflow_metrics_port}/metrics"

        def serving_metrics() -> None:
            # RUNNING: it has outlived supervisor's startsecs, so a crash at start-up (a bad
            # setting, an unreadable recovery snapshot) is not mistaken for health
            state = self.supervisor.program("dataflow")
            if not state.running:
                raise StackError(f"dataflow {state.state}: see {self.layout.logs / 'dataflow.log'}")
            with urllib.request.urlopen(url, timeout=2) as resp:
                if b"orders_events_in_total" not in resp.read():
                    raise StackError("dataflow metrics lack orders_events_in_total")

        wait_for(f"the dataflow to serve {url}", serving_metrics, timeout=120, interval=1)

    def start_demo_load(self) -> None:
        if self.settings.demo_rate <= 0:
            self.supervisor.stop("loadgen")
            say("demo load off (ORDERSTREAM_DEMO_RATE=0)")
            return
        self.start_program("loadgen")

        def running() -> None:
            state = self.supervisor.program("loadgen")
            if not state.running:
                raise StackError(f"loadgen {state.state}: see {self.layout.logs / 'loadgen.log'}")

        wait_for("the demo load", running, timeout=30)
        say(f"demo load running at {self.settings.demo_rate:g} order changes/s")

    # --- whole stack --------------------------------------------------------------------------

    def program_ports(self) -> dict[str, list[tuple[int, str]]]:
        """The ports each supervisor program listens on, with the setting that chooses them."""
        s = self.settings
        ports: dict[str, list[tuple[int, str]]] = {"mariadb": [(s.db_port, "ORDERSTREAM_DB_PORT")]}
        for i, name in enumerate(KAFKA_PROGRAMS):
            ports[name] = [
                (s.broker_ports[i], "ORDERSTREAM_KAFKA_PORTS"),
                (s.controller_ports[i], "ORDERSTREAM_KAFKA_CONTROLLER_PORTS"),
                (s.broker_jmx_ports[i], "ORDERSTREAM_KAFKA_JMX_PORTS"),
            ]
        for i, name in enumerate(CONNECT_PROGRAMS):
            ports[name] = [
                (s.connect_ports[i], "ORDERSTREAM_CONNECT_PORTS"),
                (s.connect_jmx_ports[i], "ORDERSTREAM_CONNECT_JMX_PORTS"),
            ]
        ports["dataflow"] = [(s.dataflow_metrics_port, "ORDERSTREAM_DATAFLOW_METRICS_PORT")]
        return ports

    def check_ports_free(self) -> None:
        """Fail early, naming port and setting, when another process holds a port of ours."""
        running = (
            {n for n, p in self.supervisor.programs().items() if p.running}
            if self.supervisor.is_running()
            else set()
        )
        taken = [
            f"{port} ({setting}, for {program})"
            for program, ports in self.program_ports().items()
            if program not in running
            for port, setting in ports
            if port_in_use(self.settings.host, port)
        ]
        if taken:
            raise StackError(
                "ports already in use by another process: "
                + ", ".join(taken)
                + "; stop that process or choose other ports with the named settings"
            )

    def start(self) -> None:
        self.check_installed()
        self.check_ports_free()
        changed = self.render()
        was_running = self.supervisor.is_running()
        if was_running and changed:
            added, modified, removed = self.supervisor.update()
            for verb, names in (("added", added), ("restarting", modified), ("removed", removed)):
                if names:
                    say(f"configuration changed: {verb} {', '.join(names)}")
        before = self.supervisor.programs() if was_running else {}
        self.start_supervisord()
        self.start_mariadb()
        self.start_kafka()
        self.start_connect()
        spec = ConnectorSpec.from_file(self.layout.connectors / CDC_CONNECTOR_FILE)
        outcome = self.register_connector(spec)
        say(f"connector {spec.name}: {outcome}, RUNNING")
        self.start_dataflow()
        self.start_demo_load()
        if was_running and not changed and all(p.running for p in before.values()):
            say("stack was already running and healthy: nothing changed")

    def stop(self, purge: bool = False) -> None:
        if self.supervisor.is_running():
            # reverse dependency order; the Kafka nodes stop together, since a node that is
            # left alone without a controller quorum cannot finish its controlled shutdown
            for group in (
                ("loadgen",),
                ("dataflow",),
                CONNECT_PROGRAMS,
                KAFKA_PROGRAMS,
                ("mariadb",),
            ):
                self.stop_programs(group)
            self.supervisor.shutdown()
            wait_for("supervisord to exit", self._supervisord_gone, timeout=60)
        else:
            say("stack is not running")
        if purge:
            for path in (
                self.layout.data,
                self.layout.mariadb_dir,
                self.layout.logs,
                self.layout.conf,
            ):
                shutil.rmtree(path, ignore_errors=True)
            say(f"deleted data, logs and configuration under {self.layout.root} (jars kept)")

    def stop_programs(self, names: tuple[str, ...]) -> None:
        programs = self.supervisor.programs()
        present = [n for n in names if n in programs]
        for name in present:
            say(f"stopping {name}")
            self.supervisor.stop(name, wait=False)

        def all_stopped() -> None:
            states = self.supervisor.programs()
            busy = [n for n in present if states[n].state in {"RUNNING", "STARTING", "STOPPING"}]
            if busy:
                raise StackError("still stopping: " + ", ".join(busy))

        wait_for(", ".join(present) + " to stop", all_stopped, timeout=120)

    def _supervisord_gone(self) -> None:
        if self.layout.supervisor_socket.exists() and self.supervisor.is_running():
            raise StackError("supervisord still running")


def port_in_use(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def quote_sql_string(value: str) -> str:
    return "'" + pymysql.converters.escape_string(value) + "'"
