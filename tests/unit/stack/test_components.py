"""Every component of the stack: what it renders, runs, listens on and reports."""

from __future__ import annotations

import base64
import json
import re
import shlex
import socket
from pathlib import Path

import pytest

from orderstream.knobs import SettingsError
from orderstream.settings import REPO_ROOT, Settings
from orderstream.stack import components
from orderstream.stack.components import Component, StackContext
from orderstream.stack.components.connect_workers import GROUP_ID, ConnectWorkers
from orderstream.stack.components.dataflow import Dataflow
from orderstream.stack.components.demoload import DemoLoad
from orderstream.stack.components.kafka import KAFKA_MAIN, NODE_IDS, KafkaCluster, new_cluster_id
from orderstream.stack.components.mariadb import MariaDB
from orderstream.stack.health import check_components
from orderstream.stack.layout import Layout
from orderstream.stack.runtime import Stack
from tests.unit.stack.conftest import make_context


def parse_properties(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


def supervisord_conf(ctx: StackContext) -> str:
    return Stack(ctx).supervisord_conf()


@pytest.fixture
def stack_at_rt() -> Stack:
    """A Stack over /rt with this repository (whose configuration files the monitoring
    components render), python /venv/bin/python, user root."""
    return Stack(make_context(repo=REPO_ROOT))


# --- the list -----------------------------------------------------------------------------


def test_the_list_starts_every_component_in_dependency_order(stack_at_rt: Stack) -> None:
    assert [c.name for c in stack_at_rt.components] == [
        "mariadb",
        "kafka",
        "connect",
        "connector",
        "dataflow",
        "loadgen",
        "mysqld-exporter",
        "alert-receiver",
        "alertmanager",
        "prometheus",
    ]


def test_every_component_renders_under_the_runtime_dir(stack_at_rt: Stack) -> None:
    for component in stack_at_rt.components:
        for file in component.files():
            assert file.path.is_relative_to("/rt/conf"), (component.name, file.path)
            assert file.text.endswith("\n") and "\n\n\n" not in file.text
        for program in component.programs():
            assert program.command and all(isinstance(a, str) for a in program.command)
            assert shlex.split(shlex.join(program.command)) == list(program.command)
        for path in component.purge_paths():
            assert path.is_relative_to("/rt"), (component.name, path)
    rendered = [f.path for c in stack_at_rt.components for f in c.files()]
    assert len(set(rendered)) == len(rendered)
    assert {"my.cnf", "kafka-1.properties", "connect-2.properties"} <= {p.name for p in rendered}


def test_status_names_every_component_even_when_nothing_runs(tmp_path: Path) -> None:
    """With nothing running (and no JVM started: no controller listens), every part FAILs."""
    sockets = [socket.socket() for _ in range(19)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    p = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    env = {
        "ORDERSTREAM_RUNTIME_DIR": str(tmp_path),
        "ORDERSTREAM_DB_PORT": str(p[0]),
        "ORDERSTREAM_KAFKA_PORTS": f"{p[1]},{p[2]},{p[3]}",
        "ORDERSTREAM_KAFKA_CONTROLLER_PORTS": f"{p[4]},{p[5]},{p[6]}",
        "ORDERSTREAM_KAFKA_JMX_PORTS": f"{p[7]},{p[8]},{p[9]}",
        "ORDERSTREAM_CONNECT_PORTS": f"{p[10]},{p[11]}",
        "ORDERSTREAM_DATAFLOW_METRICS_PORT": str(p[12]),
        "ORDERSTREAM_CONNECT_JMX_PORTS": f"{p[13]},{p[14]}",
        "ORDERSTREAM_PROMETHEUS_PORT": str(p[15]),
        "ORDERSTREAM_ALERTMANAGER_PORT": str(p[16]),
        "ORDERSTREAM_MYSQLD_EXPORTER_PORT": str(p[17]),
        "ORDERSTREAM_ALERT_RECEIVER_PORT": str(p[18]),
    }
    built = components.build(StackContext.of(Settings.from_env(env), env))
    checks = check_components(built)
    named = {c.component for c in checks}
    for component in built:
        assert any(component.name in name for name in named), component.name
    assert {"kafka-1", "kafka-2", "kafka-3", "kraft-quorum", "connect-1", "connect-2"} <= named
    assert not any(c.healthy for c in checks)


def test_a_check_that_raises_is_reported_by_name() -> None:
    class Broken(Component):
        name = "broken"

        def checks(self) -> list[components.Check]:
            raise TypeError("bug")

    checks = check_components([Broken(make_context())])
    (check,) = [c for c in checks if c.component == "broken"]
    assert (check.component, check.healthy) == ("broken", False)
    assert "TypeError: bug" in check.detail


def test_port_clash_is_rejected_naming_both_settings() -> None:
    with pytest.raises(SettingsError) as exc:
        components.build(make_context({"ORDERSTREAM_CONNECT_PORTS": "8083,9092"}))
    assert "ORDERSTREAM_CONNECT_PORTS" in str(exc.value)
    assert "ORDERSTREAM_KAFKA_PORTS" in str(exc.value)


def test_every_port_names_its_setting_and_program(stack_at_rt: Stack) -> None:
    ports = [p for c in stack_at_rt.components for p in c.ports()]
    assert len({p.port for p in ports}) == len(ports) >= 1 + 9 + 4 + 1
    programs = {p.name for c in stack_at_rt.components for p in c.programs()}
    assert all(p.program in programs and p.setting.startswith("ORDERSTREAM_") for p in ports)


# --- Kafka --------------------------------------------------------------------------------


@pytest.mark.parametrize("node_id", [1, 2, 3])
def test_kafka_node_is_a_combined_voter_with_durable_defaults(
    ctx: StackContext, settings: Settings, node_id: int
) -> None:
    files = {f.path.name: f.text for f in KafkaCluster(ctx).files()}
    props = parse_properties(files[f"kafka-{node_id}.properties"])
    port = settings.broker_ports[node_id - 1]
    assert props["node.id"] == str(node_id)
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == (
        "1@127.0.0.1:19092,2@127.0.0.1:19192,3@127.0.0.1:19292"
    )
    assert (
        props["listeners"] == f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{port + 10000}"
    )
    assert props["advertised.listeners"] == f"PLAINTEXT://127.0.0.1:{port}"
    assert props["default.replication.factor"] == "3"
    assert props["min.insync.replicas"] == "2"
    assert props["unclean.leader.election.enable"] == "false"
    assert props["auto.create.topics.enable"] == "false"
    assert props["log.dirs"] == f"/rt/data/kafka-{node_id}"


def test_nodes_do_not_share_ports_or_directories(ctx: StackContext) -> None:
    kafka = KafkaCluster(ctx)
    nodes = [kafka.node_properties(n) for n in NODE_IDS]
    assert len({str(n["listeners"]) for n in nodes}) == 3
    assert len({str(n["log.dirs"]) for n in nodes}) == 3


def test_kafka_command_line(ctx: StackContext) -> None:
    cmd = KafkaCluster(ctx).node_command(2)
    assert cmd[0] == "java"
    assert "-Xmx512m" in cmd
    assert (
        "-javaagent:/rt/jars/agents/jmx_prometheus_javaagent.jar=127.0.0.1:7072:/repo/stack/jmx/kafka.yml"
        in cmd
    )
    assert cmd[-2:] == [KAFKA_MAIN, "/rt/conf/kafka-2.properties"]
    assert shlex.split(shlex.join(cmd)) == cmd


# --- Connect ------------------------------------------------------------------------------


@pytest.mark.parametrize("worker_id", [1, 2])
def test_connect_worker_joins_one_group_on_loopback(
    ctx: StackContext, settings: Settings, worker_id: int
) -> None:
    props = ConnectWorkers(ctx).worker_properties(worker_id)
    port = settings.connect_ports[worker_id - 1]
    assert props["group.id"] == GROUP_ID
    assert props["listeners"] == f"http://127.0.0.1:{port}"
    assert props["bootstrap.servers"] == settings.bootstrap_servers
    for topic in ("config", "offset", "status"):
        assert props[f"{topic}.storage.replication.factor"] == 3
    assert props["plugin.path"] == Path("/rt/jars/connect-plugins")
    assert props["connector.client.config.override.policy"] == "None"
    assert props["config.providers"] == "env"
    assert int(str(props["scheduled.rebalance.max.delay.ms"])) <= 30000


def test_connector_file_holds_no_plaintext_secret(ctx: StackContext) -> None:
    config = json.loads((REPO_ROOT / "connectors" / "orders-cdc.json").read_text())["config"]
    assert config["database.password"].startswith("${env:")
    assert config["database.user"].startswith("${env:")
    # every placeholder the file uses is provided to the Connect workers
    provided = ConnectWorkers(ctx).environment()
    used = set(re.findall(r"\$\{env:([A-Z_]+)\}", json.dumps(config)))
    assert used <= set(provided)


def test_the_connector_writes_the_configured_cdc_topic() -> None:
    config = json.loads((REPO_ROOT / "connectors" / "orders-cdc.json").read_text())["config"]
    assert config["transforms.route.replacement"] == "${env:ORDERSTREAM_TOPIC_CDC}"
    ctx = make_context({"ORDERSTREAM_TOPIC_CDC": "cdc-elsewhere"})
    assert ConnectWorkers(ctx).environment()["ORDERSTREAM_TOPIC_CDC"] == "cdc-elsewhere"


def test_cdc_latency_knobs_reach_debezium_and_the_workers_producer() -> None:
    config = json.loads((REPO_ROOT / "connectors" / "orders-cdc.json").read_text())["config"]
    assert config["poll.interval.ms"] == "${env:ORDERSTREAM_CDC_POLL_INTERVAL_MS}"
    defaults = ConnectWorkers(make_context({}))
    assert defaults.environment()["ORDERSTREAM_CDC_POLL_INTERVAL_MS"] == "5"
    assert defaults.worker_properties(1)["producer.linger.ms"] == 0
    tuned = ConnectWorkers(
        make_context(
            {
                "ORDERSTREAM_CDC_POLL_INTERVAL_MS": "50",
                "ORDERSTREAM_CONNECT_PRODUCER_LINGER_MS": "20",
            }
        )
    )
    assert tuned.environment()["ORDERSTREAM_CDC_POLL_INTERVAL_MS"] == "50"
    assert tuned.worker_properties(2)["producer.linger.ms"] == 20


@pytest.mark.parametrize(
    ("variable", "value"),
    [("ORDERSTREAM_CDC_POLL_INTERVAL_MS", "0"), ("ORDERSTREAM_CONNECT_PRODUCER_LINGER_MS", "x")],
)
def test_a_bad_cdc_latency_knob_is_named(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        ConnectWorkers(make_context({variable: value}))


# --- MariaDB ------------------------------------------------------------------------------


def test_mariadb_config_has_what_debezium_needs(ctx: StackContext) -> None:
    (file,) = MariaDB(ctx).files()
    cnf = file.text
    for line in (
        "binlog_format=ROW",
        "binlog_row_image=FULL",
        "server_id=1",
        "default_time_zone=+00:00",
        "bind-address=127.0.0.1",
        "port=3306",
        "datadir=/rt/mariadb/data",
        "skip-name-resolve",
    ):
        assert line in cnf.splitlines()
    assert any(line.startswith("log-bin=") for line in cnf.splitlines())


# --- supervisord --------------------------------------------------------------------------


def test_supervisor_programs_and_connect_environment(stack_at_rt: Stack) -> None:
    conf = stack_at_rt.supervisord_conf()
    programs = [
        line[len("[program:") : -1] for line in conf.splitlines() if line.startswith("[program:")
    ]
    assert programs == [
        "mariadb",
        "kafka-1",
        "kafka-2",
        "kafka-3",
        "connect-1",
        "connect-2",
        "dataflow",
        "loadgen",
        "mysqld-exporter",
        "alert-receiver",
        "alertmanager",
        "prometheus",
    ]
    assert "file=/rt/supervisor.sock" in conf
    env_lines = [line for line in conf.splitlines() if line.startswith("environment=")]
    # only the Connect workers get credentials
    assert sum("ORDERSTREAM_DB_CDC_PASSWORD" in line for line in env_lines) == 2
    cdc_lines = [line for line in env_lines if "ORDERSTREAM_DB_CDC_PASSWORD" in line]
    assert 'ORDERSTREAM_DB_CDC_PASSWORD="debezium-dev-password"' in cdc_lines[0]
    # MariaDB writes its data directory and binlog for its owner only
    assert 'environment=UMASK="0600",UMASK_DIR="0700"' in env_lines


def test_supervisor_escapes_percent_and_quotes() -> None:
    # supervisor reads the environment with a non-POSIX shlex: no backslash escapes, so a
    # value holding '"' is quoted with "'" instead (a backslash-escaped '"' broke supervisord)
    ctx = make_context({"ORDERSTREAM_DB_CDC_PASSWORD": 'p%w"d'})
    conf = supervisord_conf(ctx)
    assert "ORDERSTREAM_DB_CDC_PASSWORD='p%%w\"d'" in conf


@pytest.mark.parametrize("password", ['it\'s "both"', "'leading", 'trailing"', "two\nlines"])
def test_a_value_supervisor_cannot_carry_is_refused_naming_it(password: str) -> None:
    ctx = make_context({"ORDERSTREAM_DB_CDC_PASSWORD": password})
    with pytest.raises(SettingsError, match="ORDERSTREAM_DB_CDC_PASSWORD"):
        supervisord_conf(ctx)


def test_supervisor_config_reads_back_with_supervisors_own_parser(tmp_path: Path) -> None:
    """supervisord's parser expands %(...)s: every program's values come back as rendered."""
    from supervisor.options import ServerOptions

    password = 'p%w"d\\,x=y'
    ctx = make_context({"ORDERSTREAM_DB_CDC_PASSWORD": password}, root=tmp_path)
    (tmp_path / "logs").mkdir()
    path = tmp_path / "supervisord.conf"
    path.write_text(supervisord_conf(ctx))
    options = ServerOptions()
    options.configfile = str(path)
    options.process_config(do_usage=False)
    groups = {g.name: g for g in options.process_group_configs}
    connect = groups["connect-1"].process_configs[0]
    assert connect.environment["ORDERSTREAM_DB_CDC_PASSWORD"] == password
    assert connect.environment["ORDERSTREAM_HOST"] == "127.0.0.1"
    assert groups["dataflow"].process_configs[0].stopsignal == 2  # SIGINT
    assert [g.priority for g in options.process_group_configs] == sorted(
        g.priority for g in options.process_group_configs
    )


def test_dataflow_is_stopped_with_sigint(stack_at_rt: Stack) -> None:
    conf = stack_at_rt.supervisord_conf()
    section = conf[conf.index("[program:dataflow]") :].split("\n\n")[0]
    assert "stopsignal=INT" in section.splitlines()


# --- dataflow and demo load ---------------------------------------------------------------


def test_dataflow_runs_with_recovery_and_configured_workers() -> None:
    ctx = make_context(
        {"ORDERSTREAM_DATAFLOW_WORKERS": "2", "ORDERSTREAM_DATAFLOW_SNAPSHOT_SECONDS": "5"}
    )
    cmd = Dataflow(ctx).command()
    assert cmd[:4] == ["/venv/bin/python", "-m", "bytewax.run", "dataflows.orders"]
    assert cmd[4:] == ["-w", "2", "-r", "/rt/recovery", "-s", "5", "-b", "5"]


def test_demo_load_runs_the_loadgen_at_the_demo_rate() -> None:
    ctx = make_context({"ORDERSTREAM_DEMO_RATE": "2.5"})
    assert DemoLoad(ctx).command() == [
        "/venv/bin/python",
        "-m",
        "orderstream",
        "loadgen",
        "--rate",
        "2.5",
    ]


def test_demo_load_at_rate_zero_is_off_and_healthy() -> None:
    load = DemoLoad(make_context({"ORDERSTREAM_DEMO_RATE": "0"}))
    assert not load.wanted()
    (check,) = load.checks()
    assert check.healthy and "off" in check.detail


def test_layout_is_under_the_runtime_dir(layout: Layout) -> None:
    assert layout.supervisor_config == Path("/rt/conf/supervisord.conf")


def test_a_new_cluster_id_never_starts_with_a_dash() -> None:
    draws = iter([b"\xf8" + bytes(15), b"\xfb" + bytes(15), b"\x00" * 16])
    cluster_id = new_cluster_id(lambda: next(draws))
    assert cluster_id == "AAAAAAAAAAAAAAAAAAAAAA"
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_storage_is_formatted_with_the_cluster_id_in_one_argument(ctx: StackContext) -> None:
    cmd = KafkaCluster(ctx).format_command("-dash", Path("/rt/conf/kafka-1.properties"))
    assert "--cluster-id=-dash" in cmd
    assert "--cluster-id" not in cmd
