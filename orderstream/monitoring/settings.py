"""Knobs of the monitoring components: Prometheus, Alertmanager, the mysqld exporter and the
alert receiver. Read from the environment with documented defaults (README settings table);
a bad value raises :class:`SettingsError` naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from orderstream.settings import Settings, SettingsError, env_port, env_str

ALERT_RECEIVER_PORT = "ORDERSTREAM_ALERT_RECEIVER_PORT"
ALERT_LOG = "ORDERSTREAM_ALERT_LOG"


@dataclass(frozen=True)
class MonitoringSettings:
    stack: Settings
    prometheus_port: int
    alertmanager_port: int
    mysqld_exporter_port: int
    alert_receiver_port: int
    alert_log: Path
    db_exporter_user: str
    db_exporter_password: str

    @property
    def host(self) -> str:
        return self.stack.host

    @property
    def prometheus_url(self) -> str:
        return f"http://{self.host}:{self.prometheus_port}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://{self.host}:{self.alertmanager_port}"

    @property
    def mysqld_exporter_url(self) -> str:
        return f"http://{self.host}:{self.mysqld_exporter_port}"

    @property
    def alert_receiver_url(self) -> str:
        return f"http://{self.host}:{self.alert_receiver_port}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MonitoringSettings:
        e = os.environ if env is None else env
        stack = Settings.from_env(e)
        default_log = stack.runtime_dir / "alerts" / "notifications.jsonl"
        settings = cls(
            stack=stack,
            prometheus_port=env_port(e, "ORDERSTREAM_PROMETHEUS_PORT", 9090),
            alertmanager_port=env_port(e, "ORDERSTREAM_ALERTMANAGER_PORT", 9093),
            mysqld_exporter_port=env_port(e, "ORDERSTREAM_MYSQLD_EXPORTER_PORT", 9104),
            alert_receiver_port=env_port(e, ALERT_RECEIVER_PORT, 9095),
            alert_log=Path(env_str(e, ALERT_LOG, str(default_log))),
            db_exporter_user=env_str(e, "ORDERSTREAM_DB_EXPORTER_USER", "exporter"),
            db_exporter_password=env_str(
                e, "ORDERSTREAM_DB_EXPORTER_PASSWORD", "exporter-dev-password"
            ),
        )
        settings._check_port_clashes()
        return settings

    def _check_port_clashes(self) -> None:
        s = self.stack
        taken = {
            port: name
            for name, ports in (
                ("ORDERSTREAM_DB_PORT", (s.db_port,)),
                ("ORDERSTREAM_KAFKA_PORTS", s.broker_ports),
                ("ORDERSTREAM_KAFKA_CONTROLLER_PORTS", s.controller_ports),
                ("ORDERSTREAM_KAFKA_JMX_PORTS", s.broker_jmx_ports),
                ("ORDERSTREAM_CONNECT_PORTS", s.connect_ports),
                ("ORDERSTREAM_CONNECT_JMX_PORTS", s.connect_jmx_ports),
                ("ORDERSTREAM_DATAFLOW_METRICS_PORT", (s.dataflow_metrics_port,)),
            )
            for port in ports
        }
        for name, port in (
            ("ORDERSTREAM_PROMETHEUS_PORT", self.prometheus_port),
            ("ORDERSTREAM_ALERTMANAGER_PORT", self.alertmanager_port),
            ("ORDERSTREAM_MYSQLD_EXPORTER_PORT", self.mysqld_exporter_port),
            (ALERT_RECEIVER_PORT, self.alert_receiver_port),
        ):
            if port in taken:
                raise SettingsError(f"{name}: port {port} is also used by {taken[port]}")
            taken[port] = name
