"""Alertmanager's config: amtool accepts it (repository and native copies) and routes each
severity to its receiver, the Watchdog to its own."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from orderstream.monitoring import config
from orderstream.monitoring.settings import MonitoringSettings


def amtool_run(amtool: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(amtool), *args], capture_output=True, text=True)


def native_config(tmp_path: Path) -> Path:
    ms = MonitoringSettings.from_env({"ORDERSTREAM_ALERT_RECEIVER_PORT": "19095"})
    path = tmp_path / "alertmanager.yml"
    path.write_text(
        config.alertmanager_config(config.ALERTMANAGER_CONFIG.read_text(), ms.alert_receiver_url)
    )
    return path


def test_amtool_accepts_the_repository_config(amtool: Path) -> None:
    result = amtool_run(amtool, "check-config", str(config.ALERTMANAGER_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_accepts_the_native_config(amtool: Path, tmp_path: Path) -> None:
    result = amtool_run(amtool, "check-config", str(native_config(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_native_config_only_moves_the_webhooks(tmp_path: Path) -> None:
    repo = yaml.safe_load(config.ALERTMANAGER_CONFIG.read_text())
    native = yaml.safe_load(native_config(tmp_path).read_text())
    urls = [h["url"] for r in native["receivers"] for h in r.get("webhook_configs", [])]
    assert urls == [
        "http://127.0.0.1:19095/alerts/page",
        "http://127.0.0.1:19095/alerts/ticket",
        "http://127.0.0.1:19095/alerts/watchdog",
        "http://127.0.0.1:19095/alerts/default",
    ]
    for receiver in repo["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = "x"
    for receiver in native["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = "x"
    assert native == repo


ROUTES = [
    ("page", ["alertname=KafkaBrokerDown", "severity=page", "instance=kafka-1"]),
    ("page", ["alertname=DataflowDown", "severity=page"]),
    ("ticket", ["alertname=DataflowDeadLetters", "severity=ticket", "reason=not_json"]),
    ("ticket", ["alertname=KafkaUnderReplicated", "severity=ticket"]),
    ("watchdog", ["alertname=Watchdog", "severity=none"]),
    ("default", ["alertname=SomethingNew"]),
    ("default", ["alertname=SomethingNew", "severity=warning"]),
]


@pytest.mark.parametrize(("receiver", "labels"), ROUTES)
def test_routes(amtool: Path, receiver: str, labels: list[str]) -> None:
    result = amtool_run(
        amtool,
        "config",
        "routes",
        "test",
        f"--config.file={config.ALERTMANAGER_CONFIG}",
        f"--verify.receivers={receiver}",
        *labels,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_route_expectation_fails(amtool: Path) -> None:
    """amtool's verification is real: the Watchdog does not page."""
    result = amtool_run(
        amtool,
        "config",
        "routes",
        "test",
        f"--config.file={config.ALERTMANAGER_CONFIG}",
        "--verify.receivers=page",
        "alertname=Watchdog",
        "severity=none",
    )
    assert result.returncode != 0


def test_every_receiver_records_resolved_alerts_except_the_watchdog() -> None:
    receivers = yaml.safe_load(config.ALERTMANAGER_CONFIG.read_text())["receivers"]
    resolved = {r["name"]: r["webhook_configs"][0]["send_resolved"] for r in receivers}
    assert resolved == {"page": True, "ticket": True, "watchdog": False, "default": True}
