"""`orderstream alerts`: one line per firing alert, the Watchdog checked, not listed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from orderstream.cli import main
from orderstream.monitoring.alerts import Alert, format_alerts

NOW = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)


def api_alert(name: str, severity: str, state: str = "active", **labels: str) -> dict[str, Any]:
    return {
        "labels": {"alertname": name, "severity": severity, **labels},
        "annotations": {"summary": f"{name} summary"},
        "startsAt": "2026-11-25T10:00:00.000Z",
        "status": {"state": state},
    }


def test_lines_most_severe_first_and_watchdog_reported() -> None:
    alerts = [
        Alert.from_api(a)
        for a in (
            api_alert("DataflowDeadLetters", "ticket", reason="not_json"),
            api_alert("Watchdog", "none"),
            api_alert("KafkaBrokerDown", "page", instance="kafka-2", job="kafka"),
            api_alert("ConnectWorkerDown", "ticket", state="suppressed", instance="connect-1"),
        )
    ]
    lines = format_alerts(alerts, NOW)
    assert len(lines) == 3
    assert lines[0].startswith("page    KafkaBrokerDown")
    assert "instance=kafka-2 job=kafka" in lines[0] and "for  30m" in lines[0]
    assert lines[1].startswith("ticket  DataflowDeadLetters") and "reason=not_json" in lines[1]
    assert lines[2].startswith("2 alerts firing (1 silenced or inhibited")
    assert "Watchdog firing" in lines[2]
    assert all("Watchdog summary" not in line for line in lines)


def test_missing_watchdog_is_reported() -> None:
    lines = format_alerts([], NOW)
    assert lines == [
        "0 alerts firing; Watchdog NOT firing: rules, Prometheus or Alertmanager are broken"
    ]


@pytest.fixture
def alertmanager(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    served: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(served).encode()
            self.send_response(200 if self.path == "/api/v2/alerts" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    monkeypatch.setenv("ORDERSTREAM_ALERTMANAGER_PORT", str(server.server_address[1]))
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


def test_cli_lists_firing_alerts(
    alertmanager: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    alertmanager += [api_alert("Watchdog", "none"), api_alert("DataflowDown", "page")]
    assert main(["alerts"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("page    DataflowDown")
    assert out[1].startswith("1 alerts firing")


def test_cli_fails_without_watchdog(
    alertmanager: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alerts"]) == 1
    assert "Watchdog NOT firing" in capsys.readouterr().out


def test_cli_names_an_unreachable_alertmanager(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ORDERSTREAM_ALERTMANAGER_PORT", "1")
    assert main(["alerts"]) == 1
    assert "Alertmanager at http://127.0.0.1:1 did not answer" in capsys.readouterr().err
