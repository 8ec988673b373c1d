"""The containers get the settings the native stack renders, derived from the same source.

Every expected value comes from the project's Python (the native renderers, the settings
defaults, the contract, the connector file), never retyped here: a change on one side without
the other fails a test.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dataflows.settings import DataflowSettings
from orderstream.knobs import Database
from orderstream.settings import REPO_ROOT, Settings
from orderstream.stack.components import StackContext, connect_workers, dataflow, kafka
from orderstream.stack.components.connector import CDC_CONNECTOR_FILE
from orderstream.stack.components.demoload import DemoLoad
from orderstream.stack.components.mariadb import MariaDB
from orderstream.stack.kafka_admin import stack_topics
from orderstream.stack.layout import Layout
from orderstream.stack.supervisor import Supervisor
from tests.unit.compose import compose_file as cf

SERVICES: dict[str, cf.Service] = cf.load()["services"]
#: the native stack with every default, as `orderstream stack start` would render it
NATIVE = Settings.from_env({})
LAYOUT = Layout(Path("/native-runtime"))
CTX = StackContext(NATIVE, LAYOUT, Supervisor(LAYOUT.supervisor_socket), env={}, python="python")
KAFKA = [kafka.program_name(n) for n in kafka.NODE_IDS]
CONNECT = [connect_workers.program_name(n) for n in connect_workers.WORKER_IDS]

#: server.properties keys that say where a node is (addresses, paths), not how it behaves
KAFKA_PLACE_KEYS = {
    "node.id", "controller.quorum.voters", "listeners", "advertised.listeners",
    "listener.security.protocol.map", "inter.broker.listener.name", "log.dirs",
}  # fmt: skip
CONNECT_PLACE_KEYS = {
    "bootstrap.servers", "listeners", "rest.advertised.host.name", "rest.advertised.port",
    "plugin.path",
}  # fmt: skip


def listener_map(value: str) -> dict[str, str]:
    """``NAME://host:port,...`` -> ``{NAME: host:port}``."""
    return dict(item.split("://") for item in value.split(","))


def internal_bootstrap() -> str:
    addresses = []
    for name in KAFKA:
        props = cf.kafka_image_properties(cf.environment(SERVICES[name]))
        addresses.append(listener_map(props["advertised.listeners"])["INTERNAL"])
    return ",".join(addresses)


@pytest.mark.parametrize("node_id", kafka.NODE_IDS)
def test_kafka_nodes_get_the_native_server_properties(node_id: int) -> None:
    service = SERVICES[f"kafka-{node_id}"]
    compose = cf.kafka_image_properties(cf.environment(service))
    native = kafka.KafkaCluster(CTX).node_properties(node_id)
    for key, value in native.items():
        if key in KAFKA_PLACE_KEYS:
            continue
        assert compose.get(key) == cf.java_property_text(value), f"kafka-{node_id}: {key}"
    assert compose["node.id"] == str(node_id)
    assert native["process.roles"] == compose["process.roles"] == "broker,controller"


def test_kafka_listeners_and_quorum_fit_together() -> None:
    voters = {}
    for i, name in enumerate(KAFKA):
        env = cf.environment(SERVICES[name])
        props = cf.kafka_image_properties(env)
        listeners = listener_map(props["listeners"])
        advertised = listener_map(props["advertised.listeners"])
        protocols = dict(
            item.split(":") for item in props["listener.security.protocol.map"].split(",")
        )
        assert set(listeners) == set(protocols)
        assert {props["inter.broker.listener.name"], props["controller.listener.names"]} <= set(
            listeners
        )
        assert advertised["INTERNAL"] == f"{name}:{listeners['INTERNAL'].split(':')[1]}"
        external_port = int(advertised["EXTERNAL"].split(":")[1])
        assert external_port == NATIVE.broker_ports[i]
        (published,) = cf.published_ports(SERVICES[name])
        assert (published.host_port, published.container_port) == (
            external_port,
            int(listeners["EXTERNAL"].split(":")[1]),
        )
        voters[props["node.id"]] = f"{name}:{listeners['CONTROLLER'].split(':')[1]}"
        assert env["CLUSTER_ID"] == cf.environment(SERVICES[KAFKA[0]])["CLUSTER_ID"]
    for name in KAFKA:
        props = cf.kafka_image_properties(cf.environment(SERVICES[name]))
        assert props["controller.quorum.voters"] == ",".join(
            f"{node}@{address}" for node, address in voters.items()
        )


def test_kafka_cluster_id_is_a_valid_kraft_id() -> None:
    import base64

    cluster_id = cf.environment(SERVICES["kafka-1"])["CLUSTER_ID"]
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


@pytest.mark.parametrize("worker_id", connect_workers.WORKER_IDS)
def test_connect_workers_get_the_native_worker_properties(worker_id: int) -> None:
    name = f"connect-{worker_id}"
    compose = cf.debezium_connect_properties(cf.environment(SERVICES[name]))
    native = connect_workers.ConnectWorkers(CTX).worker_properties(worker_id)
    for key, value in native.items():
        if key in CONNECT_PLACE_KEYS:
            continue
        assert compose.get(key) == cf.java_property_text(value), f"{name}: {key}"
    assert compose["bootstrap.servers"] == internal_bootstrap()
    assert compose["rest.advertised.host.name"] == name
    listen_port = int(compose["listeners"].rsplit(":", 1)[1])
    assert int(compose["rest.advertised.port"]) == listen_port
    (published,) = cf.published_ports(SERVICES[name])
    i = connect_workers.WORKER_IDS.index(worker_id)
    assert (published.host_port, published.container_port) == (NATIVE.connect_ports[i], listen_port)


def connector_files() -> list[Path]:
    return sorted((REPO_ROOT / "connectors").glob("*.json"))


@pytest.mark.parametrize("name", CONNECT)
def test_connector_placeholders_resolve_in_the_workers(name: str) -> None:
    env = cf.environment(SERVICES[name])
    native = connect_workers.ConnectWorkers(CTX).environment()
    assert {k for k in env if k.startswith("ORDERSTREAM_")} == set(native)
    addresses = {"ORDERSTREAM_HOST", "ORDERSTREAM_DB_PORT", "ORDERSTREAM_KAFKA_BOOTSTRAP"}
    for key, value in native.items():
        if key not in addresses:  # topic names and (with .env's defaults) credentials
            assert env[key] == value, f"{name}: {key}"
    props = cf.debezium_connect_properties(env)
    allow = re.compile(props["config.providers.env.param.allowlist.pattern"])
    for path in connector_files():
        text = path.read_text()
        for variable in re.findall(r"\$\{env:([A-Za-z0-9_]+)\}", text):
            assert variable in env, f"{path.name} needs {variable} in {name}"
            assert allow.fullmatch(variable), f"{variable} is outside the provider's allow-list"
    assert env["ORDERSTREAM_HOST"] in SERVICES
    mariadb = cf.published_ports(SERVICES[env["ORDERSTREAM_HOST"]])
    assert int(env["ORDERSTREAM_DB_PORT"]) == mariadb[0].container_port
    assert env["ORDERSTREAM_KAFKA_BOOTSTRAP"] == internal_bootstrap()
    dotenv = cf.read_env_file()
    assert env["ORDERSTREAM_DB_CDC_USER"] == dotenv["ORDERSTREAM_DB_CDC_USER"]
    assert env["ORDERSTREAM_DB_CDC_PASSWORD"] == dotenv["ORDERSTREAM_DB_CDC_PASSWORD"]


def test_connector_setup_registers_the_native_connector_file() -> None:
    service = SERVICES["connector-setup"]
    cmd = cf.command(service)
    assert cmd[:3] == ["orderstream", "connector", "register"]
    workdir = dockerfile_workdir()
    registered = cmd[3] if cmd[3].startswith("/") else f"{workdir}/{cmd[3]}"
    assert cf.mount_source(service, registered) == f"./connectors/{CDC_CONNECTOR_FILE}"
    url = cmd[cmd.index("--url") + 1]
    host, port = url.removeprefix("http://").split(":")
    assert host in CONNECT and int(port) == cf.published_ports(SERVICES[host])[0].container_port
    env = cf.environment(service)
    assert env["ORDERSTREAM_HOST"] == "mariadb"
    # the Connect healthcheck waits for the plugin of the registered connector
    spec = json.loads((REPO_ROOT / "connectors" / CDC_CONNECTOR_FILE).read_text())
    assert spec["config"]["connector.class"] == connect_workers.DEBEZIUM_PLUGIN_CLASS
    for name in CONNECT:
        health = " ".join(SERVICES[name]["healthcheck"]["test"])
        assert connect_workers.DEBEZIUM_PLUGIN_CLASS in health
    # registering also creates Debezium's schema history topic: it needs the cluster too
    assert Settings.from_env(env).bootstrap_servers == internal_bootstrap()


def dockerfile_workdir() -> str:
    workdirs = re.findall(r"^WORKDIR\s+(\S+)", cf.DOCKERFILE.read_text(), re.MULTILINE)
    return str(workdirs[-1])


def test_topics_are_the_native_ones() -> None:
    service = SERVICES["kafka-setup"]
    assert cf.command(service) == ["orderstream", "topics", "create"]
    env = cf.environment(service)
    assert env["ORDERSTREAM_KAFKA_BOOTSTRAP"] == internal_bootstrap()
    assert stack_topics(Settings.from_env(env)) == stack_topics(NATIVE)


def test_the_dataflow_reads_and_writes_the_native_topics_with_the_native_semantics() -> None:
    env = cf.environment(SERVICES["dataflow"])
    compose = DataflowSettings.from_env(env)
    native = DataflowSettings.from_env({})
    assert compose.topics == native.topics
    assert compose.flow == native.flow
    assert compose.delivery_timeout == native.delivery_timeout
    assert compose.metrics_port == native.metrics_port
    assert compose.bootstrap_servers == internal_bootstrap()
    assert compose.metrics_host == "0.0.0.0"


def test_the_dataflow_command_is_the_native_one_with_recovery_on_a_volume() -> None:
    service = SERVICES["dataflow"]
    compose = cf.command(service)
    native = dataflow.Dataflow(CTX).command()
    recovery = compose[compose.index("-r") + 1]
    native[native.index("-r") + 1] = recovery
    assert compose == native
    assert compose[3] == dataflow.DATAFLOW_MODULE
    volume = cf.mount_source(service, recovery)
    assert volume == cf.mount_source(SERVICES["dataflow-recovery"], recovery)
    assert volume in cf.load()["volumes"]
    assert service["stop_signal"] == "SIGINT"
    health = " ".join(service["healthcheck"]["test"])
    assert f":{NATIVE.dataflow_metrics_port}/metrics" in health
    assert dataflow.READY_METRIC in health, "healthy as `orderstream status` judges it"


def test_the_scaled_dataflow_processes_agree_on_addresses_and_flags() -> None:
    scaled = cf.load(cf.COMPOSE_FILE, None, cf.SCALE_FILE)["services"]
    base = cf.command(SERVICES["dataflow"])
    processes = {
        name: cf.command(svc) for name, svc in scaled.items() if name.startswith("dataflow")
    }
    processes.pop("dataflow-recovery")
    addresses = {cmd[cmd.index("-a") + 1] for cmd in processes.values()}
    assert len(addresses) == 1
    hosts = [address.split(":")[0] for address in addresses.pop().split(";")]
    assert sorted(hosts) == sorted(processes)
    for name, cmd in processes.items():
        process_id = int(cmd[cmd.index("-i") + 1])
        assert hosts[process_id] == name
        assert cmd[: len(base)] == base, f"{name} runs other flags than the dataflow"
        port = NATIVE.dataflow_metrics_port + process_id
        assert f":{port}/metrics" in " ".join(scaled[name]["healthcheck"]["test"])
        if process_id:
            assert cf.published_ports(scaled[name])[0].host_port == port


def test_recovery_partitions_are_created_once(tmp_path: Path) -> None:
    """Run the dataflow-recovery one-shot's own command twice on an empty directory."""
    service = SERVICES["dataflow-recovery"]
    cmd = cf.command(service)
    recovery = cf.mounts(service)[0].target
    assert cmd[:2] == ["sh", "-c"]
    script = cmd[2].replace(recovery, str(tmp_path)).replace("python ", f"{sys.executable} ")
    assert f"bytewax.recovery {tmp_path} {dataflow.RECOVERY_PARTITIONS}" in script
    for _ in range(2):
        result = subprocess.run(["sh", "-c", script], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]
    assert len(list(tmp_path.iterdir())) == dataflow.RECOVERY_PARTITIONS


def test_the_demo_load_is_the_native_one() -> None:
    service = SERVICES["loadgen"]
    assert cf.command(service) == DemoLoad(CTX).command()
    compose = Database.from_env(cf.environment(service))
    native = Database.from_env({})
    assert (compose.name, compose.user, compose.password, compose.port) == (
        native.name,
        native.user,
        native.password,
        native.port,
    )
    assert compose.host in SERVICES


def test_mariadb_runs_with_the_native_server_settings() -> None:
    service = SERVICES["mariadb"]
    flags = {}
    for flag in cf.command(service):
        key, _, value = flag.removeprefix("--").partition("=")
        flags[key.replace("_", "-")] = value
    section = MariaDB(CTX).cnf().split("[client]")[0]
    location = {"datadir", "socket", "pid-file", "port", "bind-address", "log-bin"}
    for line in section.splitlines()[1:]:
        if not line.strip():
            continue
        key, _, value = line.partition("=")
        key = key.replace("_", "-")
        if key in location:
            continue
        assert flags.get(key) == value, f"mariadb: {key}"
    assert flags["log-bin"], "binary log on (CDC)"
    assert cf.published_ports(service)[0].container_port == NATIVE.db_port


def test_mysql_init_is_applied_in_the_native_order() -> None:
    """Every mysql-init/*.sql reaches the image's init directory, in the same order."""
    service = SERVICES["mariadb"]
    initdb = "/docker-entrypoint-initdb.d/"
    applied = sorted(
        (m for m in cf.mounts(service) if m.target.startswith(initdb)), key=lambda m: m.target
    )
    native = sorted((REPO_ROOT / "mysql-init").glob("*.sql"))
    assert [Path(m.target).stem for m in applied] == [p.stem for p in native]
    for mount, path in zip(applied, native, strict=True):
        if path.name.endswith("users.sql"):  # rendered like the native stack does
            assert mount.source == f"./docker/mariadb/{path.stem}.sh"
            template = cf.environment(service).get("ORDERSTREAM_USERS_TEMPLATE")
            target = template or "/etc/orderstream/02-users.sql.template"
            assert cf.mount_source(service, target) == f"./mysql-init/{path.name}"
        else:
            assert mount.source == f"./mysql-init/{path.name}"


def test_jmx_agent_comes_from_the_native_pom_execution() -> None:
    one_shot = SERVICES["jmx-agent"]
    cmd = cf.command(one_shot)
    assert "dependency:copy@jmx-agent" in cmd
    pom = cmd[cmd.index("-f") + 1]
    assert cf.mount_source(one_shot, pom) == "./stack/pom.xml"
    stack_dir = next(a for a in cmd if a.startswith("-Dstack.dir=")).split("=", 1)[1]
    agent_in_volume = LAYOUT.jmx_agent.relative_to(LAYOUT.jars)
    volume = cf.mount_source(one_shot, stack_dir)
    for name, port in [(n, 7071) for n in KAFKA] + [(n, 7081) for n in CONNECT]:
        service = SERVICES[name]
        opts = cf.environment(service)["KAFKA_OPTS"]
        match = re.fullmatch(r"-javaagent:(\S+?)=(\d+):(\S+)", opts)
        assert match, f"{name}: KAFKA_OPTS={opts}"
        jar, agent_port, rules = match.groups()
        assert cf.mount_source(service, jar) == f"{volume}/{agent_in_volume}"
        assert int(agent_port) == port
        component = "kafka" if name in KAFKA else "connect"
        assert cf.mount_source(service, rules) == f"./stack/jmx/{component}.yml"
