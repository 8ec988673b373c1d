"""`orderstream status` checks of the monitoring components, each for real.

Prometheus is healthy when it is ready and has loaded every rule of the repository without
an evaluation error; the scrape targets get their own line (every one up, the ones down named);
Alertmanager when it is ready (its line counts the firing alerts, the Watchdog aside); the
mysqld exporter when it reaches MariaDB (``mysql_up 1``); the receiver when it answers.
"""

from __future__ import annotations

import requests
import yaml

from orderstream.monitoring import config
from orderstream.monitoring.alerts import WATCHDOG, AlertmanagerUnavailable, fetch_alerts
from orderstream.monitoring.prometheus_api import (
    MonitoringApiError,
    PrometheusClient,
    alertmanager_ready,
)
from orderstream.monitoring.settings import MonitoringSettings
from orderstream.stack.health import Check, metric_sum


def repo_rule_count() -> int:
    return sum(
        len(group["rules"])
        for path in config.RULES_DIR.glob("*.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
    )


def check_prometheus(ms: MonitoringSettings) -> list[Check]:
    client = PrometheusClient(ms.prometheus_url, timeout=3)
    if not client.ready():
        reason = f"{ms.prometheus_url} is not ready (see logs/prometheus.log)"
        return [Check("prometheus", False, reason), Check("scrape-targets", False, reason)]
    try:
        rules = [r for g in client.rule_groups() for r in g["rules"]]
        targets = client.targets()
        firing = [
            a for a in client.alerts()
            if a["state"] == "firing" and a["labels"].get("alertname") != WATCHDOG
        ]  # fmt: skip
    except MonitoringApiError as exc:
        return [Check("prometheus", False, str(exc)), Check("scrape-targets", False, str(exc))]
    broken = [r["name"] for r in rules if r.get("health") != "ok"]
    want = repo_rule_count()
    detail = f"ready at {ms.prometheus_url}; {len(rules)}/{want} rules loaded"
    detail += f", {len(firing)} alerts firing (Watchdog aside)"
    if broken:
        detail += f"; rules failing: {', '.join(sorted(set(broken)))}"
    down = sorted(
        f"{t['labels'].get('instance', t['scrapeUrl'])} ({t.get('lastError') or t['health']})"
        for t in targets
        if t["health"] != "up"
    )
    up = len(targets) - len(down)
    target_detail = f"{up}/{len(targets)} up" + (f"; down: {', '.join(down)}" if down else "")
    return [
        Check("prometheus", len(rules) == want and not broken, detail),
        Check("scrape-targets", bool(targets) and not down, target_detail),
    ]


def check_alertmanager(ms: MonitoringSettings) -> list[Check]:
    if not alertmanager_ready(ms.alertmanager_url, timeout=3):
        return [Check("alertmanager", False, f"{ms.alertmanager_url} is not ready")]
    try:
        alerts = fetch_alerts(ms.alertmanager_url, timeout=3)
    except AlertmanagerUnavailable as exc:
        return [Check("alertmanager", False, str(exc))]
    active = [a for a in alerts if a.state == "active" and a.name != WATCHDOG]
    watchdog = any(a.name == WATCHDOG for a in alerts)
    detail = f"ready at {ms.alertmanager_url}; {len(active)} alerts firing (orderstream alerts)"
    detail += "" if watchdog else "; the Watchdog has not arrived yet"
    return [Check("alertmanager", True, detail)]


def check_mysqld_exporter(ms: MonitoringSettings) -> list[Check]:
    url = f"{ms.mysqld_exporter_url}/metrics"
    try:
        resp = requests.get(url, timeout=5)
        resp.raise_for_status()
    except requests.RequestException as exc:
        return [Check("mysqld-exporter", False, f"{url} does not answer: {exc}")]
    up = metric_sum(resp.text, "mysql_up")
    if up != 1:
        return [
            Check(
                "mysqld-exporter",
                False,
                f"serving {url} but cannot reach MariaDB as {ms.db_exporter_user} (mysql_up {up})",
            )
        ]
    return [Check("mysqld-exporter", True, f"serving {url}; sees MariaDB (mysql_up 1)")]


def check_alert_receiver(ms: MonitoringSettings) -> list[Check]:
    url = f"{ms.alert_receiver_url}/healthz"
    try:
        resp = requests.get(url, timeout=3)
        resp.raise_for_status()
    except requests.RequestException as exc:
        return [Check("alert-receiver", False, f"{url} does not answer: {exc}")]
    return [
        Check("alert-receiver", True, f"answers at {ms.alert_receiver_url}; log {ms.alert_log}")
    ]
