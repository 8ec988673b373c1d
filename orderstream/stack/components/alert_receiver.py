"""The alert receiver (`orderstream alert-receiver`, orderstream/monitoring/receiver.py): the
webhook Alertmanager notifies; records every alert of every notification as a JSON line."""

from __future__ import annotations

from pathlib import Path

import requests

from orderstream.monitoring.settings import ALERT_RECEIVER_PORT
from orderstream.poll import wait_for
from orderstream.stack.components.base import Check, Port, Program
from orderstream.stack.components.monitored import MonitoringComponent


class AlertReceiver(MonitoringComponent):
    name = "alert-receiver"

    @property
    def health_url(self) -> str:
        return f"{self.monitoring.alert_receiver_url}/healthz"

    def programs(self) -> list[Program]:
        m = self.monitoring
        # `orderstream alert-receiver` run alone: imports only what it uses (smaller process)
        command = [
            self.ctx.python,
            "-m",
            "orderstream.monitoring.receiver",
            "--host",
            self.settings.host,
            "--port",
            str(m.alert_receiver_port),
            "--log",
            str(m.alert_log),
        ]
        return [Program(self.name, command, {"PYTHONUNBUFFERED": "1"})]

    def ports(self) -> list[Port]:
        return [Port(self.monitoring.alert_receiver_port, ALERT_RECEIVER_PORT, self.name)]

    def _answers(self) -> None:
        requests.get(self.health_url, timeout=2).raise_for_status()

    def wait_ready(self) -> None:
        wait_for(
            f"the alert receiver at {self.health_url}",
            self._answers,
            timeout=30,
            retry_on=(requests.RequestException,),
        )

    def checks(self) -> list[Check]:
        try:
            self._answers()
        except requests.RequestException as exc:
            reason = f"{self.health_url} does not answer: {type(exc).__name__}"
            return [Check(self.name, False, reason)]
        m = self.monitoring
        detail = f"answers at {m.alert_receiver_url}; records to {m.alert_log}"
        return [Check(self.name, True, detail)]

    def where(self) -> list[tuple[str, str]]:
        return [("alert notifications", str(self.monitoring.alert_log))]

    def purge_paths(self) -> list[Path]:
        return [self.monitoring.alert_log]
