"""The alert receiver records each alert of a webhook as a JSON line, refuses anything else."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orderstream.monitoring.receiver import PayloadError, make_server, notification_lines, read_log

PAYLOAD: dict[str, Any] = {
    "version": "4",
    "receiver": "page",
    "status": "firing",
    "groupLabels": {"alertname": "KafkaBrokerDown"},
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "KafkaBrokerDown", "instance": "kafka-2", "severity": "page"},
            "annotations": {"summary": "Kafka node kafka-2 is down"},
            "startsAt": "2026-11-25T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "abc",
        },
        {
            "status": "resolved",
            "labels": {"alertname": "KafkaBrokerDown", "instance": "kafka-3", "severity": "page"},
            "annotations": {},
            "startsAt": "2026-11-25T09:00:00Z",
            "endsAt": "2026-11-25T09:05:00Z",
        },
    ],
}


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    log = tmp_path / "alerts" / "notifications.jsonl"
    server = make_server("127.0.0.1", 0, log)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()


def post(url: str, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_records_one_line_per_alert(receiver: tuple[str, Path]) -> None:
    url, log = receiver
    status, text = post(f"{url}/alerts/page", json.dumps(PAYLOAD).encode())
    assert status == 200, text
    records = list(read_log(log))
    assert [(r["receiver"], r["status"], r["labels"]["instance"]) for r in records] == [
        ("page", "firing", "kafka-2"),
        ("page", "resolved", "kafka-3"),
    ]
    first = records[0]
    assert first["alertname"] == "KafkaBrokerDown"
    assert first["annotations"] == {"summary": "Kafka node kafka-2 is down"}
    assert first["startsAt"] == "2026-11-25T10:00:00Z"
    received = datetime.fromisoformat(first["received_at"])
    assert received.tzinfo is not None and received.utcoffset() == UTC.utcoffset(None)


def test_appends_across_notifications(receiver: tuple[str, Path]) -> None:
    url, log = receiver
    for _ in range(3):
        assert post(f"{url}/alerts/page", json.dumps(PAYLOAD).encode())[0] == 200
    assert len(list(read_log(log))) == 6


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"receiver": "page"}', b'{"receiver": "page", "alerts": [1]}'],
)
def test_refuses_what_is_not_a_webhook_and_records_nothing(
    receiver: tuple[str, Path], body: bytes
) -> None:
    url, log = receiver
    status, text = post(f"{url}/alerts/page", body)
    assert status == 400
    assert "not an Alertmanager webhook" in text
    assert list(read_log(log)) == []


def test_health(receiver: tuple[str, Path]) -> None:
    url, _ = receiver
    with urllib.request.urlopen(f"{url}/healthz", timeout=5) as resp:
        assert resp.read() == b"ok\n"


def test_payload_without_alerts_is_an_error() -> None:
    with pytest.raises(PayloadError):
        notification_lines({"receiver": "x"}, datetime.now(UTC))
