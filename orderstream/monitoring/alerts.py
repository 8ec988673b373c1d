"""`orderstream alerts`: what is firing now, from Alertmanager, one line per alert.

For people on the native stack without Grafana. The always-firing Watchdog is not listed but
checked: when it is missing, the alert path itself is broken and the command says so.
Exit status: 0 when Alertmanager answered, 1 when it did not or the Watchdog is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orderstream.monitoring.settings import MonitoringSettings
from orderstream.subcommand import Subcommand

WATCHDOG = "Watchdog"
#: Labels not repeated on each line (shown in their own columns, or the same everywhere).
SHOWN_ELSEWHERE = {"alertname", "severity", "system"}


class AlertmanagerUnavailable(RuntimeError):
    """Alertmanager did not answer; the message names its URL."""


@dataclass(frozen=True)
class Alert:
    name: str
    severity: str
    state: str  # active, suppressed (silenced or inhibited), unprocessed
    labels: dict[str, str]
    summary: str
    starts_at: datetime

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> Alert:
        labels = {str(k): str(v) for k, v in raw.get("labels", {}).items()}
        return cls(
            name=labels.get("alertname", "?"),
            severity=labels.get("severity", "-"),
            state=str(raw.get("status", {}).get("state", "?")),
            labels=labels,
            summary=str(raw.get("annotations", {}).get("summary", "")),
            starts_at=datetime.fromisoformat(str(raw["startsAt"]).replace("Z", "+00:00")),
        )


def fetch_alerts(alertmanager_url: str, timeout: float = 5.0) -> list[Alert]:
    """Every alert Alertmanager holds now (API v2), active and suppressed."""
    url = f"{alertmanager_url}/api/v2/alerts"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            data = json.load(resp)
    except (OSError, urllib.error.URLError, ValueError) as exc:
        raise AlertmanagerUnavailable(
            f"Alertmanager at {alertmanager_url} did not answer: {exc}"
        ) from None
    return [Alert.from_api(a) for a in data]


def format_alerts(alerts: list[Alert], now: datetime, show_suppressed: bool = False) -> list[str]:
    """One line per firing alert (most severe first), then a summary line."""
    order = {"page": 0, "ticket": 1}
    listed = sorted(
        (a for a in alerts if a.name != WATCHDOG and (show_suppressed or a.state == "active")),
        key=lambda a: (order.get(a.severity, 2), a.name, sorted(a.labels.items())),
    )
    lines = []
    for a in listed:
        extra = " ".join(
            f"{k}={v}" for k, v in sorted(a.labels.items()) if k not in SHOWN_ELSEWHERE
        )
        minutes = max(0, int((now - a.starts_at).total_seconds() // 60))
        state = "" if a.state == "active" else f" [{a.state}]"
        lines.append(
            f"{a.severity:<7} {a.name:<24} {extra:<30} for {minutes:>3}m  {a.summary}{state}"
        )
    watchdog = any(a.name == WATCHDOG for a in alerts)
    suppressed = sum(1 for a in alerts if a.name != WATCHDOG and a.state != "active")
    summary = f"{sum(1 for a in listed if a.state == 'active')} alerts firing"
    if suppressed and not show_suppressed:
        summary += f" ({suppressed} silenced or inhibited: --all lists them)"
    summary += (
        "; Watchdog firing: the alert path works"
        if watchdog
        else "; Watchdog NOT firing: rules, Prometheus or Alertmanager are broken"
    )
    return [*lines, summary]


def _run(args: argparse.Namespace) -> int:
    ms = MonitoringSettings.from_env()
    try:
        alerts = fetch_alerts(ms.alertmanager_url)
    except AlertmanagerUnavailable as exc:
        print(f"orderstream: error: {exc}", file=sys.stderr)
        return 1
    for line in format_alerts(alerts, datetime.now(UTC), show_suppressed=args.all):
        print(line)
    return 0 if any(a.name == WATCHDOG for a in alerts) else 1


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--all", action="store_true", help="also list silenced and inhibited alerts"
    )
    parser.set_defaults(func=_run)


SUBCOMMAND = Subcommand(
    name="alerts",
    help="list the alerts firing now (from Alertmanager), one line each",
    description=__doc__ or "",
    epilog="Alertmanager's address: ORDERSTREAM_HOST and ORDERSTREAM_ALERTMANAGER_PORT.",
    configure=_configure,
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    return SUBCOMMAND.add_to(subparsers)


if __name__ == "__main__":
    sys.exit(SUBCOMMAND.run_alone())
