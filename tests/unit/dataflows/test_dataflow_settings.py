"""dataflows.settings and the entry point's handling of bad settings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from bytewax.dataflow import Dataflow

from dataflows import orders
from dataflows.placement import Placement
from dataflows.settings import (
    DataflowSettings,
    FlowConfig,
    bytewax_process_count,
    bytewax_process_id,
)
from orderstream.settings import SettingsError


def test_defaults() -> None:
    settings = DataflowSettings.from_env({})
    assert settings.bootstrap_servers == "127.0.0.1:9092,127.0.0.1:9192,127.0.0.1:9292"
    assert settings.topics.cdc == "mysql-orders"
    assert settings.topics.processed == "processed-orders"
    assert settings.topics.revenue == "order-revenue-1m"
    assert settings.topics.transitions == "order-status-transitions-1m"
    assert settings.topics.dlq == "orders-dlq"
    assert settings.flow == FlowConfig(
        window_length=timedelta(seconds=60),
        allowed_lateness=timedelta(seconds=10),
        window_retention=timedelta(hours=24),
        order_state_idle=timedelta(hours=6),
    )
    assert (settings.metrics_host, settings.metrics_port) == ("127.0.0.1", 9108)
    assert settings.delivery_timeout == timedelta(seconds=120)


def test_overrides() -> None:
    settings = DataflowSettings.from_env(
        {
            "ORDERSTREAM_KAFKA_BOOTSTRAP": "kafka:29092",
            "ORDERSTREAM_TOPIC_CDC": "in",
            "ORDERSTREAM_TOPIC_DLQ": "dead",
            "ORDERSTREAM_WINDOW_SECONDS": "30",
            "ORDERSTREAM_ALLOWED_LATENESS_SECONDS": "0",
            "ORDERSTREAM_ORDER_STATE_IDLE_SECONDS": "600",
            "ORDERSTREAM_WINDOW_RETENTION_SECONDS": "3600",
            "ORDERSTREAM_DATAFLOW_METRICS_PORT": "9200",
            "ORDERSTREAM_DATAFLOW_DELIVERY_TIMEOUT_SECONDS": "15",
            "ORDERSTREAM_WATERMARK_IDLE_SECONDS": "5",
            "ORDERSTREAM_DATAFLOW_PREFETCH_KBYTES": "2048",
            "ORDERSTREAM_DATAFLOW_BATCH_SIZE": "300",
        }
    )
    assert settings.bootstrap_servers == "kafka:29092"
    assert (settings.topics.cdc, settings.topics.dlq) == ("in", "dead")
    assert settings.flow == FlowConfig(
        timedelta(seconds=30),
        timedelta(0),
        timedelta(hours=1),
        timedelta(minutes=10),
        timedelta(seconds=5),
    )
    assert settings.metrics_port == 9200
    assert settings.delivery_timeout == timedelta(seconds=15)
    assert settings.prefetch_kbytes == 2048
    assert settings.batch_size == 300


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ORDERSTREAM_ORDER_STATE_IDLE_SECONDS", "soon"),
        ("ORDERSTREAM_ORDER_STATE_IDLE_SECONDS", "0"),
        ("ORDERSTREAM_WINDOW_RETENTION_SECONDS", "-1"),
        ("ORDERSTREAM_DATAFLOW_METRICS_PORT", "70000"),
        ("ORDERSTREAM_DATAFLOW_DELIVERY_TIMEOUT_SECONDS", "1.5"),
        ("ORDERSTREAM_WINDOW_SECONDS", "0"),
        ("ORDERSTREAM_WATERMARK_IDLE_SECONDS", "0"),
        ("ORDERSTREAM_DATAFLOW_PREFETCH_KBYTES", "512"),
        ("ORDERSTREAM_DATAFLOW_BATCH_SIZE", "0"),
        ("ORDERSTREAM_DATAFLOW_BATCH_SIZE", "many"),
        ("ORDERSTREAM_TOPIC_REVENUE", " "),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        DataflowSettings.from_env({name: value})


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        ([], {}, 0),
        (["dataflows.orders", "-w", "2"], {}, 0),
        (["dataflows.orders", "-i", "2", "-a", "a:1;b:2;c:3"], {}, 2),
        (["dataflows.orders", "--process-id", "1", "-a", "a:1;b:2"], {}, 1),
        (["dataflows.orders"], {"BYTEWAX_PROCESS_ID": "3"}, 3),
    ],
)
def test_process_id_follows_bytewax_run(
    argv: list[str], env: dict[str, str], expected: int
) -> None:
    assert bytewax_process_id(argv, env) == expected


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["dataflows.orders", "-w", "2"], {}, 1),
        (["dataflows.orders", "-i", "1", "-a", "a:1;b:2"], {}, 2),
        (["dataflows.orders", "--addresses", "a:1;b:2;c:3"], {}, 3),
        (["dataflows.orders"], {"BYTEWAX_ADDRESSES": "a:1;b:2"}, 2),
    ],
)
def test_process_count_follows_bytewax_run(
    argv: list[str], env: dict[str, str], expected: int
) -> None:
    assert bytewax_process_count(argv, env) == expected


def test_several_processes_take_smaller_batches_unless_set() -> None:
    assert DataflowSettings.from_env({}).batch_size == 10000
    own_partitions = Placement(processes=2)
    assert DataflowSettings.from_env({}, own_partitions).batch_size == 5000
    shared_partitions = Placement(processes=2, workers_per_process=2)
    assert DataflowSettings.from_env({}, shared_partitions).batch_size == 500
    set_explicitly = {"ORDERSTREAM_DATAFLOW_BATCH_SIZE": "1500"}
    assert DataflowSettings.from_env(set_explicitly, shared_partitions).batch_size == 1500


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_entry_point_builds_the_production_flow_without_a_broker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORDERSTREAM_DATAFLOW_METRICS_PORT", str(_free_port()))
    monkeypatch.setattr(sys, "argv", ["bytewax.run", "dataflows.orders"])
    assert isinstance(orders.flow(), Dataflow)


def test_entry_point_exits_with_the_variable_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERSTREAM_WINDOW_RETENTION_SECONDS", "lots")
    with pytest.raises(SystemExit, match="ORDERSTREAM_WINDOW_RETENTION_SECONDS"):
        orders.flow()


def test_bytewax_run_with_a_bad_value_exits_with_one_line_and_no_traceback() -> None:
    env = {**os.environ, "ORDERSTREAM_ORDER_STATE_IDLE_SECONDS": "forever"}
    done = subprocess.run(
        [sys.executable, "-m", "bytewax.run", "dataflows.orders"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "ORDERSTREAM_ORDER_STATE_IDLE_SECONDS='forever' is not an integer" in done.stderr
    assert "Traceback" not in done.stderr


def test_metrics_port_in_use_exits_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setenv("ORDERSTREAM_DATAFLOW_METRICS_PORT", str(taken.getsockname()[1]))
        monkeypatch.setattr(sys, "argv", ["bytewax.run", "dataflows.orders"])
        with pytest.raises(SystemExit, match="ORDERSTREAM_DATAFLOW_METRICS_PORT"):
            orders.flow()


@pytest.mark.parametrize(
    "stack_only",
    [
        {"ORDERSTREAM_KAFKA_HEAP": "lots"},
        {"ORDERSTREAM_CONNECT_HEAP": "1t"},
        {"ORDERSTREAM_DB_PORT": "abc"},
        {"ORDERSTREAM_DB_CDC_PASSWORD": " "},
        {"ORDERSTREAM_KAFKA_JMX_PORTS": "1,2"},
        {"ORDERSTREAM_CONNECT_PORTS": "8083,9092"},  # a port clash of the stack
        {"ORDERSTREAM_DEMO_RATE": "fast"},
        {"ORDERSTREAM_DATAFLOW_WORKERS": "0"},
        {"ORDERSTREAM_RUNTIME_DIR": " "},
    ],
)
def test_a_broken_stack_only_setting_does_not_stop_the_dataflow(
    stack_only: dict[str, str],
) -> None:
    assert DataflowSettings.from_env(stack_only) == DataflowSettings.from_env({})


def test_the_dataflow_reads_the_stack_knobs_it_shares_with_one_default() -> None:
    from orderstream.settings import Settings

    env = {"ORDERSTREAM_HOST": "10.0.0.5", "ORDERSTREAM_KAFKA_PORTS": "1,2,3"}
    flow, stack = DataflowSettings.from_env(env), Settings.from_env(env)
    assert flow.bootstrap_servers == stack.bootstrap_servers == "10.0.0.5:1,10.0.0.5:2,10.0.0.5:3"
    assert flow.metrics_host == stack.host
    defaults, stack_defaults = DataflowSettings.from_env({}), Settings.from_env({})
    assert defaults.flow == FlowConfig()
    assert defaults.flow.window_length == timedelta(seconds=stack_defaults.window_seconds)
    assert defaults.topics == stack_defaults.topics
    assert defaults.metrics_port == stack_defaults.dataflow_metrics_port
