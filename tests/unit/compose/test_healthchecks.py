"""The healthchecks that need no image-specific tool, run here against small fake servers.

The command is taken from docker-compose.yml as it is, only its port pointed at the fake
(and ``python`` at this interpreter): healthy when the component answers as it should,
unhealthy when it answers otherwise or not at all.
"""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.unit.compose import compose_file as cf

SERVICES: dict[str, cf.Service] = cf.load()["services"]


@contextmanager
def serving(path: str, body: str) -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == path
            self.send_response(200 if found else 404)
            self.end_headers()
            self.wfile.write(body.encode() if found else b"not found")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_healthcheck(service: str, container_port: int, port: int) -> int:
    test = SERVICES[service]["healthcheck"]["test"]
    assert test[0] == "CMD"
    argv = [part.replace(str(container_port), str(port)) for part in test[1:]]
    if argv[0] == "python":
        argv[0] = sys.executable
    return subprocess.run(argv, capture_output=True, timeout=30).returncode


@pytest.mark.parametrize("name", ["connect-1", "connect-2"])
def test_connect_is_healthy_only_with_the_mariadb_plugin_loaded(name: str) -> None:
    plugin = '[{"class":"io.debezium.connector.mariadb.MariaDbConnector","type":"source"}]'
    with serving("/connector-plugins", plugin) as port:
        assert run_healthcheck(name, 8083, port) == 0
    with serving("/connector-plugins", '[{"class":"org.example.Other"}]') as port:
        assert run_healthcheck(name, 8083, port) != 0
    assert run_healthcheck(name, 8083, free_port()) != 0


def test_dataflow_is_healthy_only_while_serving_its_metrics() -> None:
    with serving(
        "/metrics", "# TYPE orders_events_in_total counter\norders_events_in_total 0\n"
    ) as p:
        assert run_healthcheck("dataflow", 9108, p) == 0
    with serving("/metrics", "python_info 1\n") as port:
        assert run_healthcheck("dataflow", 9108, port) != 0
    assert run_healthcheck("dataflow", 9108, free_port()) != 0


def test_alert_receiver_is_healthy_only_while_answering_its_health_path() -> None:
    with serving("/healthz", "ok\n") as port:
        assert run_healthcheck("alert-receiver", 9095, port) == 0
    with serving("/other", "ok\n") as port:
        assert run_healthcheck("alert-receiver", 9095, port) != 0
    assert run_healthcheck("alert-receiver", 9095, free_port()) != 0
