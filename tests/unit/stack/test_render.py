from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from orderstream.settings import Settings
from orderstream.stack import render
from orderstream.stack.layout import Layout


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env({"ORDERSTREAM_RUNTIME_DIR": "/rt"})


@pytest.fixture
def layout() -> Layout:
    return Layout(Path("/rt"), repo=Path("/repo"))


def parse_properties(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


def test_properties_renders_booleans_lower_case_and_rejects_newlines() -> None:
    assert render.properties({"a": True, "b": 3}) == "a=true\nb=3\n"
    with pytest.raises(ValueError, match="x"):
        render.properties({"x": "one\ntwo"})


@pytest.mark.parametrize("node_id", [1, 2, 3])
def test_kafka_node_is_a_combined_voter_with_durable_defaults(
    settings: Settings, layout: Layout, node_id: int
) -> None:
    props = parse_properties(
        render.properties(render.kafka_node_properties(settings, layout, node_id))
    )
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


def test_nodes_do_not_share_ports_or_directories(settings: Settings, layout: Layout) -> None:
    nodes = [render.kafka_node_properties(settings, layout, n) for n in render.KAFKA_NODE_IDS]
    assert len({str(n["listeners"]) for n in nodes}) == 3
    assert len({str(n["log.dirs"]) for n in nodes}) == 3


@pytest.mark.parametrize("worker_id", [1, 2])
def test_connect_worker_joins_one_group_on_loopback(
    settings: Settings, layout: Layout, worker_id: int
) -> None:
    props = render.connect_worker_properties(settings, layout, worker_id)
    port = settings.connect_ports[worker_id - 1]
    assert props["group.id"] == render.CONNECT_GROUP_ID
    assert props["listeners"] == f"http://127.0.0.1:{port}"
    assert props["bootstrap.servers"] == settings.bootstrap_servers
    for topic in ("config", "offset", "status"):
        assert props[f"{topic}.storage.replication.factor"] == 3
    assert props["plugin.path"] == Path("/rt/jars/connect-plugins")
    assert props["connector.client.config.override.policy"] == "None"
    assert props["config.providers"] == "env"
    assert int(str(props["scheduled.rebalance.max.delay.ms"])) <= 30000


def test_connector_file_holds_no_plaintext_secret() -> None:
    import json

    from orderstream.settings import REPO_ROOT

    config = json.loads((REPO_ROOT / "connectors" / "orders-cdc.json").read_text())["config"]
    assert config["database.password"].startswith("${env:")
    assert config["database.user"].startswith("${env:")
    # every placeholder the file uses is provided to the Connect workers
    provided = render.connect_worker_environment(Settings.from_env({}))
    import re

    used = set(re.findall(r"\$\{env:([A-Z_]+)\}", json.dumps(config)))
    assert used <= set(provided)


def test_mariadb_config_has_what_debezium_needs(settings: Settings, layout: Layout) -> None:
    cnf = render.mariadb_cnf(settings, layout)
    for line in (
        "binlog_format=ROW",
        "binlog_row_image=FULL",
        "server_id=1",
        "default_time_zone=+00:00",
        "bind-address=127.0.0.1",
        "port=3306",
        "datadir=/rt/mariadb/data",
    ):
        assert line in cnf.splitlines()
    assert any(line.startswith("log-bin=") for line in cnf.splitlines())


def test_supervisor_programs_and_connect_environment(settings: Settings, layout: Layout) -> None:
    conf = render.supervisord_conf(settings, layout, "root", "/venv/bin/python")
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
    ]
    assert "file=/rt/supervisor.sock" in conf
    env_lines = [line for line in conf.splitlines() if line.startswith("environment=")]
    # only the Connect workers get credentials
    assert sum("ORDERSTREAM_DB_CDC_PASSWORD" in line for line in env_lines) == 2
    assert 'ORDERSTREAM_DB_CDC_PASSWORD="debezium-dev-password"' in env_lines[0]


def test_supervisor_escapes_percent_and_quotes() -> None:
    s = Settings.from_env({"ORDERSTREAM_DB_CDC_PASSWORD": 'p%w"d'})
    conf = render.supervisord_conf(s, Layout(Path("/rt"), repo=Path("/repo")), "root", "/py")
    assert 'ORDERSTREAM_DB_CDC_PASSWORD="p%%w\\"d"' in conf


def test_kafka_command_line(settings: Settings, layout: Layout) -> None:
    cmd = render.kafka_node_command(settings, layout, 2)
    assert cmd[0] == "java"
    assert "-Xmx512m" in cmd
    assert (
        "-javaagent:/rt/jars/agents/jmx_prometheus_javaagent.jar=127.0.0.1:7072:/repo/stack/jmx/kafka.yml"
        in cmd
    )
    assert cmd[-2:] == [render.KAFKA_MAIN, "/rt/conf/kafka-2.properties"]
    assert shlex.split(shlex.join(cmd)) == cmd


def test_users_sql_quotes_every_value() -> None:
    s = Settings.from_env({"ORDERSTREAM_DB_APP_PASSWORD": "it's"})
    template = (
        "CREATE USER %(app_user)s IDENTIFIED BY %(app_password)s; %(cdc_user)s %(cdc_password)s"
    )
    sql = render.users_sql(template, s, lambda v: "'" + v.replace("'", "\\'") + "'")
    assert sql.startswith("CREATE USER 'shop_app' IDENTIFIED BY 'it\\'s';")


def test_dataflow_runs_with_recovery_and_configured_workers(layout: Layout) -> None:
    s = Settings.from_env(
        {"ORDERSTREAM_DATAFLOW_WORKERS": "2", "ORDERSTREAM_DATAFLOW_SNAPSHOT_SECONDS": "5"}
    )
    cmd = render.dataflow_command(s, layout, "/venv/bin/python")
    assert cmd[:4] == ["/venv/bin/python", "-m", "bytewax.run", "dataflows.orders"]
    assert cmd[4:] == ["-w", "2", "-r", "/rt/recovery", "-s", "5", "-b", "5"]


def test_demo_load_runs_the_loadgen_at_the_demo_rate() -> None:
    s = Settings.from_env({"ORDERSTREAM_DEMO_RATE": "2.5"})
    assert render.demo_load_command(s, "/py") == [
        "/py",
        "-m",
        "orderstream",
        "loadgen",
        "--rate",
        "2.5",
    ]


def test_dataflow_is_stopped_with_sigint(settings: Settings, layout: Layout) -> None:
    conf = render.supervisord_conf(settings, layout, "root", "/py")
    section = conf[conf.index("[program:dataflow]") :].split("\n\n")[0]
    assert "stopsignal=INT" in section.splitlines()
