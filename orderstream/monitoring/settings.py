"""Knobs of the monitoring components: Prometheus, Alertmanager, the mysqld exporter and the
alert receiver. Read from the environment with documented defaults (README settings table);
a bad value raises :class:`~orderstream.knobs.SettingsError` naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from orderstream.knobs import env_port, env_str
from orderstream.settings import Settings

PROMETHEUS_PORT = "ORDERSTREAM_PROMETHEUS_PORT"
ALERTMANAGER_PORT = "ORDERSTREAM_ALERTMANAGER_PORT"
MYSQLD_EXPORTER_PORT = "ORDERSTREAM_MYSQLD_EXPORTER_PORT"
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
    def of(cls, stack: Settings, env: Mapping[str, str]) -> MonitoringSettings:
        """The monitoring knobs from ``env``, next to the stack's settings. Port clashes with
        other components are refused by the component list (orderstream.stack.components)."""
        default_log = stack.runtime_dir / "alerts" / "notifications.jsonl"
        return cls(
            stack=stack,
            prometheus_port=env_port(env, PROMETHEUS_PORT, 9090),
            alertmanager_port=env_port(env, ALERTMANAGER_PORT, 9093),
            mysqld_exporter_port=env_port(env, MYSQLD_EXPORTER_PORT, 9104),
            alert_receiver_port=env_port(env, ALERT_RECEIVER_PORT, 9095),
            alert_log=Path(env_str(env, ALERT_LOG, str(default_log))),
            db_exporter_user=env_str(env, "ORDERSTREAM_DB_EXPORTER_USER", "exporter"),
            db_exporter_password=env_str(
                env, "ORDERSTREAM_DB_EXPORTER_PASSWORD", "exporter-dev-password"
            ),
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MonitoringSettings:
        e = os.environ if env is None else env
        return cls.of(Settings.from_env(e), e)
