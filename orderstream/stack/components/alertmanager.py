"""Alertmanager 0.25 (Debian package, its own service kept off): routes the alerts
Prometheus sends by severity to the project's receiver (alert_receiver.py).

Its configuration is the repository's ``alertmanager/alertmanager.yml`` with the webhook URLs
moved to the native receiver; ``amtool check-config`` runs before anything starts. Gossip
clustering is off (a single instance; it would otherwise listen on 0.0.0.0:9094).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from orderstream.monitoring import checks, config
from orderstream.monitoring.alerts import WATCHDOG, AlertmanagerUnavailable, fetch_alerts
from orderstream.monitoring.prometheus_api import (
    MonitoringApiError,
    alertmanager_ready,
    alertmanager_reload,
)
from orderstream.monitoring.settings import ALERTMANAGER_PORT
from orderstream.poll import NotReady, wait_for
from orderstream.stack.components.base import (
    Check,
    File,
    Port,
    Program,
    StackError,
)
from orderstream.stack.components.monitored import MonitoringComponent


class Alertmanager(MonitoringComponent):
    name = "alertmanager"

    @property
    def config_path(self) -> Path:
        return self.layout.conf / "alertmanager.yml"

    @property
    def data_dir(self) -> Path:
        return self.layout.data / "alertmanager"

    def rendered(self) -> str:
        source = (self.layout.repo / "alertmanager" / "alertmanager.yml").read_text()
        return config.alertmanager_config(source, self.monitoring.alert_receiver_url)

    def files(self) -> list[File]:
        return [File(self.config_path, self.rendered())]

    def programs(self) -> list[Program]:
        m = self.monitoring
        command = [
            str(self.binary("prometheus-alertmanager")),
            f"--config.file={self.config_path}",
            f"--storage.path={self.data_dir}",
            f"--web.listen-address={self.settings.host}:{m.alertmanager_port}",
            f"--web.external-url={m.alertmanager_url}",
            "--cluster.listen-address=",
        ]
        return [Program(self.name, command)]

    def ports(self) -> list[Port]:
        return [Port(self.monitoring.alertmanager_port, ALERTMANAGER_PORT, self.name)]

    def check_installed(self) -> None:
        self.binary("prometheus-alertmanager")
        amtool = self.binary("amtool")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "alertmanager.yml"
            path.write_text(self.rendered())
            try:
                checks.check_alertmanager_config(amtool, path)
            except checks.ConfigInvalid as exc:
                raise StackError(str(exc)) from None

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.ctx.supervisor.program(self.name).running:
            try:
                alertmanager_reload(self.monitoring.alertmanager_url)
            except MonitoringApiError as exc:
                raise StackError(f"alertmanager: {exc}") from None

    def wait_ready(self) -> None:
        url = self.monitoring.alertmanager_url

        def ready() -> None:
            state = self.ctx.supervisor.program(self.name)
            if state.state == "FATAL":
                raise StackError(f"alertmanager {state.state}: see {self.ctx.log_of(self.name)}")
            if not alertmanager_ready(url, timeout=2):
                raise NotReady(f"{url}/-/ready does not answer 200")

        wait_for("Alertmanager to be ready", ready, timeout=60)

    def checks(self) -> list[Check]:
        url = self.monitoring.alertmanager_url
        if not alertmanager_ready(url, timeout=3):
            return [
                Check(self.name, False, f"{url} is not ready (see {self.ctx.log_of(self.name)})")
            ]
        try:
            alerts = fetch_alerts(url, timeout=3)
        except AlertmanagerUnavailable as exc:
            return [Check(self.name, False, str(exc))]
        active = [a for a in alerts if a.state == "active" and a.name != WATCHDOG]
        detail = f"ready at {url}; {len(active)} alerts firing besides the Watchdog"
        if not any(a.name == WATCHDOG for a in alerts):
            detail += " (the Watchdog has not arrived yet)"
        return [Check(self.name, True, detail)]

    def where(self) -> list[tuple[str, str]]:
        return [
            ("Alertmanager", self.monitoring.alertmanager_url),
            ("alerts firing now", "orderstream alerts"),
        ]

    def purge_paths(self) -> list[Path]:
        return [self.data_dir]
