"""Real faults, end to end: the production rules fire, Alertmanager routes the alert and the
receiver records it (and, where it matters, records its resolution).

Speed-up, said plainly: the production ``for:`` durations (1-2 minutes) and Alertmanager's
grouping (10 s wait, 1 m interval) would make each case take minutes, so the module fixture
renders the same rules with every ``for:`` capped at 15 s and Alertmanager grouping at
5 s/15 s, reloads both, and restores the production files (and reloads) afterwards; should
the test process die first, the next ``orderstream stack start`` renders the production files
again and reloads. The conditions (``expr``), labels, routes and receivers are the production
ones.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from confluent_kafka import Producer

from orderstream.cli import main
from orderstream.monitoring.prometheus_api import PrometheusClient, alertmanager_reload
from orderstream.monitoring.receiver import read_log
from orderstream.monitoring.settings import MonitoringSettings
from orderstream.settings import Settings
from orderstream.stack.layout import Layout
from orderstream.stack.supervisor import Supervisor
from tests.integration.conftest import kill_and_hold_down, poll_until, start_program

FAST_FOR_SECONDS = 15
CONNECTOR = "orders-cdc"


def seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smh])", duration))


def faster_rules(text: str) -> str:
    rules = yaml.safe_load(text)
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule and seconds(rule["for"]) > FAST_FOR_SECONDS:
                rule["for"] = f"{FAST_FOR_SECONDS}s"
    return yaml.safe_dump(rules, sort_keys=False)


def faster_alertmanager(text: str) -> str:
    config = yaml.safe_load(text)
    config["route"].update(group_wait="5s", group_interval="15s")
    for route in config["route"].get("routes", []):
        if "group_wait" in route:
            route["group_wait"] = "5s"
    return yaml.safe_dump(config, sort_keys=False)


@pytest.fixture(scope="module")
def monitoring() -> MonitoringSettings:
    return MonitoringSettings.from_env()


@pytest.fixture(scope="module")
def prometheus(monitoring: MonitoringSettings) -> PrometheusClient:
    return PrometheusClient(monitoring.prometheus_url, timeout=10)


@pytest.fixture(scope="module", autouse=True)
def fast_alerting(
    settings: Settings, monitoring: MonitoringSettings, prometheus: PrometheusClient
) -> Iterator[None]:
    conf = Layout(settings.runtime_dir).conf
    originals = {p: p.read_text() for p in (conf / "prometheus" / "rules").glob("*.yml")}
    am = conf / "alertmanager.yml"
    originals[am] = am.read_text()
    for path, text in originals.items():
        path.write_text(faster_alertmanager(text) if path == am else faster_rules(text))
    try:
        prometheus.reload()
        alertmanager_reload(monitoring.alertmanager_url)
        yield
    finally:
        for path, text in originals.items():
            path.write_text(text)
        prometheus.reload()
        alertmanager_reload(monitoring.alertmanager_url)


def notification(
    log: Path,
    since: datetime,
    alertname: str,
    *,
    receiver: str,
    status: str = "firing",
    labels: dict[str, str] | None = None,
    timeout: float = 150,
) -> dict[str, Any]:
    """Wait until the receiver recorded the alert (received after ``since``); return it."""
    found: list[dict[str, Any]] = []

    def recorded() -> bool:
        found[:] = [
            r
            for r in read_log(log)
            if datetime.fromisoformat(r["received_at"]) >= since
            and r["alertname"] == alertname
            and r["receiver"] == receiver
            and r["status"] == status
            and all(r["labels"].get(k) == v for k, v in (labels or {}).items())
        ]
        return bool(found)

    poll_until(f"{status} {alertname} {labels or ''} at receiver {receiver}", recorded, timeout, 2)
    return found[0]


def test_stopping_the_dataflow_fires_dataflow_down(
    supervisor: Supervisor,
    monitoring: MonitoringSettings,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    since = datetime.now(UTC)
    supervisor.stop("dataflow", wait=True)
    try:
        record = notification(monitoring.alert_log, since, "DataflowDown", receiver="page")
        assert record["labels"]["severity"] == "page"
        assert "docs/monitoring.md#dataflowdown" in record["annotations"]["description"]
        main(["alerts"])  # its exit status also reports the Watchdog, which a reload can delay
        listed = [line for line in capsys.readouterr().out.splitlines() if "DataflowDown" in line]
        assert listed and listed[0].startswith("page")
    finally:
        start_program(supervisor, "dataflow")
    poll_until(
        "the dataflow to serve metrics again",
        lambda: requests.get(settings.dataflow_metrics_url, timeout=2).ok,
        timeout=120,
    )
    notification(monitoring.alert_log, since, "DataflowDown", receiver="page", status="resolved")


def test_a_malformed_record_fires_dead_letters(
    settings: Settings, monitoring: MonitoringSettings
) -> None:
    since = datetime.now(UTC)
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers, "acks": "all"})
    # a JSON object whose op is none of c/u/d/r: dead-lettered as bad_envelope
    value = b'{"op": "x", "source": {}, "test": "' + uuid.uuid4().hex.encode() + b'"}'
    producer.produce(settings.topic_cdc, key=b'{"id": 1}', value=value)
    assert producer.flush(30) == 0
    record = notification(
        monitoring.alert_log,
        since,
        "DataflowDeadLetters",
        receiver="ticket",
        labels={"reason": "bad_envelope"},
    )
    assert record["annotations"]["summary"] == (
        "Dead letters with reason bad_envelope in the last 5 minutes"
    )


def test_pausing_the_connector_fires_connector_not_running(
    settings: Settings, monitoring: MonitoringSettings
) -> None:
    url = f"{settings.connect_url}/connectors/{CONNECTOR}"
    since = datetime.now(UTC)
    requests.put(f"{url}/pause", timeout=10).raise_for_status()
    try:
        record = notification(
            monitoring.alert_log,
            since,
            "ConnectorNotRunning",
            receiver="page",
            labels={"connector": CONNECTOR},
        )
        assert record["labels"]["severity"] == "page"
    finally:
        requests.put(f"{url}/resume", timeout=10).raise_for_status()
    notification(
        monitoring.alert_log, since, "ConnectorNotRunning", receiver="page", status="resolved"
    )


def test_killing_a_broker_fires_kafka_broker_down_and_resolves(
    supervisor: Supervisor, monitoring: MonitoringSettings, prometheus: PrometheusClient
) -> None:
    since = datetime.now(UTC)
    kill_and_hold_down(supervisor, "kafka-3")
    try:
        record = notification(
            monitoring.alert_log,
            since,
            "KafkaBrokerDown",
            receiver="page",
            labels={"instance": "kafka-3", "job": "kafka"},
        )
        assert record["annotations"]["summary"] == "Kafka node kafka-3 is down"
    finally:
        start_program(supervisor, "kafka-3")
    notification(
        monitoring.alert_log,
        since,
        "KafkaBrokerDown",
        receiver="page",
        status="resolved",
        labels={"instance": "kafka-3"},
        timeout=180,
    )
    # leave a healthy cluster: every replica back in sync
    poll_until(
        "no under-replicated partition",
        lambda: bool(prometheus.query("sum(kafka_server_under_replicated_partitions) == 0")),
        timeout=180,
        interval=3,
    )
