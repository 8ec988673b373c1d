"""Bad configuration and stopped components give clear, named errors: no hang, no traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from orderstream.settings import REPO_ROOT, Settings
from orderstream.stack.connect import ConnectClient
from orderstream.stack.supervisor import Supervisor
from tests.integration.conftest import free_ports, poll_until


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orderstream", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=REPO_ROOT,
    )


@pytest.fixture
def connector_file(tmp_path: Path, settings: Settings) -> Iterator[tuple[Path, dict[str, object]]]:
    body = json.loads((REPO_ROOT / "connectors" / "orders-cdc.json").read_text())
    suffix = uuid.uuid4().hex[:8]
    body["name"] = f"orders-cdc-test-{suffix}"
    body["config"]["topic.prefix"] = f"test{suffix}"
    body["config"]["database.server.id"] = str(200000 + int(suffix, 16) % 100000)
    body["config"]["schema.history.internal.kafka.topic"] = f"test-{suffix}-history"
    path = tmp_path / "connector.json"
    yield path, body
    ConnectClient(settings.connect_url).delete(str(body["name"]))


def write(path: Path, body: dict[str, object]) -> None:
    path.write_text(json.dumps(body))


def test_wrong_password_is_a_clear_error(connector_file: tuple[Path, dict[str, object]]) -> None:
    path, body = connector_file
    body["config"]["database.password"] = "definitely-not-the-password"  # type: ignore[index]
    write(path, body)

    result = run_cli("connector", "register", str(path), "--timeout", "60")

    assert result.returncode != 0
    assert "Access denied" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_table_is_a_clear_error(connector_file: tuple[Path, dict[str, object]]) -> None:
    path, body = connector_file
    body["config"]["table.include.list"] = "shop.no_such_table"  # type: ignore[index]
    write(path, body)

    result = run_cli("connector", "register", str(path), "--timeout", "60")

    assert result.returncode != 0
    assert "shop.no_such_table" in result.stderr
    assert "match no table" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_setting_names_the_variable() -> None:
    result = run_cli("status", env={"ORDERSTREAM_KAFKA_PORTS": "nine,ten,eleven"})
    assert result.returncode != 0
    assert "ORDERSTREAM_KAFKA_PORTS" in result.stderr
    assert "Traceback" not in result.stderr


def test_status_of_a_stack_that_is_not_running_names_every_part(tmp_path: Path) -> None:
    p = free_ports(12)
    env = {
        "ORDERSTREAM_RUNTIME_DIR": str(tmp_path),
        "ORDERSTREAM_DB_PORT": str(p[0]),
        "ORDERSTREAM_KAFKA_PORTS": f"{p[1]},{p[2]},{p[3]}",
        "ORDERSTREAM_KAFKA_CONTROLLER_PORTS": f"{p[4]},{p[5]},{p[6]}",
        "ORDERSTREAM_KAFKA_JMX_PORTS": f"{p[7]},{p[8]},{p[9]}",
        "ORDERSTREAM_CONNECT_PORTS": f"{p[10]},{p[11]}",
    }
    result = run_cli("status", env=env, timeout=60)

    assert result.returncode != 0
    unhealthy = result.stdout.strip().splitlines()[-1]
    for part in (
        "mariadb",
        "kafka-1",
        "kafka-2",
        "kafka-3",
        "kraft-quorum",
        "connect-1",
        "connect-2",
    ):
        assert part in unhealthy
    assert "Traceback" not in result.stdout + result.stderr


def test_status_names_a_stopped_connect_worker(
    settings: Settings, supervisor: Supervisor, cdc_connector: str
) -> None:
    supervisor.stop("connect-2")
    try:
        result = run_cli("status", timeout=60)
    finally:
        supervisor.start("connect-2")
    lines = result.stdout.splitlines()
    assert result.returncode != 0
    assert any(line.startswith("FAIL") and "connect-2" in line for line in lines)
    assert any(line.startswith("OK") and "connect-1" in line for line in lines)
    assert any(line.startswith("OK") and "mariadb" in line for line in lines)
    assert "connect-2" in lines[-1] and lines[-1].startswith("unhealthy:")

    def connector_running() -> bool:
        status = ConnectClient(settings.connect_url).status(cdc_connector)
        return status is not None and status.running

    poll_until(f"connector {cdc_connector} RUNNING again", connector_running, 120, interval=1)
    poll_until(
        "connect-2 REST", lambda: run_cli("status", timeout=60).returncode == 0, 120, interval=2
    )


def test_stop_script_rejects_unknown_arguments() -> None:
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "stop.sh"), "--everything"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "--everything" in result.stderr


def test_start_refuses_a_port_held_by_another_process(tmp_path: Path, settings: Settings) -> None:
    (tmp_path / "jars").symlink_to(settings.runtime_dir / "jars")
    p = free_ports(11)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        held = squatter.getsockname()[1]
        env = {
            "ORDERSTREAM_RUNTIME_DIR": str(tmp_path),
            "ORDERSTREAM_DB_PORT": str(held),
            "ORDERSTREAM_KAFKA_PORTS": f"{p[0]},{p[1]},{p[2]}",
            "ORDERSTREAM_KAFKA_CONTROLLER_PORTS": f"{p[3]},{p[4]},{p[5]}",
            "ORDERSTREAM_KAFKA_JMX_PORTS": f"{p[6]},{p[7]},{p[8]}",
            "ORDERSTREAM_CONNECT_PORTS": f"{p[9]},{p[10]}",
        }
        result = run_cli("stack", "start", env=env, timeout=60)

    assert result.returncode != 0
    assert f"{held} (ORDERSTREAM_DB_PORT, for mariadb)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "supervisor.sock").exists()  # nothing was started
