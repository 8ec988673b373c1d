"""prometheus-mysqld-exporter 0.14 (Debian package, its own service kept off):
MariaDB's status and variables for Prometheus, read as the ``exporter`` user that
mysql-init/02-users.sql creates (PROCESS, REPLICATION CLIENT, SELECT), from an owner-only
my.cnf (``--config.my-cnf``, which later exporter versions also read)."""

from __future__ import annotations

from pathlib import Path

import requests

from orderstream.monitoring import config
from orderstream.monitoring.settings import MYSQLD_EXPORTER_PORT
from orderstream.poll import NotReady, wait_for
from orderstream.stack.components.base import (
    Check,
    File,
    Port,
    Program,
)
from orderstream.stack.components.dataflow import metric_sum
from orderstream.stack.components.monitored import MonitoringComponent


class MysqldExporter(MonitoringComponent):
    name = "mysqld-exporter"

    @property
    def cnf_path(self) -> Path:
        return self.layout.conf / "mysqld-exporter.cnf"

    @property
    def metrics_url(self) -> str:
        return f"{self.monitoring.mysqld_exporter_url}/metrics"

    def files(self) -> list[File]:
        return [File(self.cnf_path, config.mysqld_exporter_cnf(self.monitoring), mode=0o600)]

    def programs(self) -> list[Program]:
        command = [
            str(self.binary("prometheus-mysqld-exporter")),
            f"--config.my-cnf={self.cnf_path}",
            f"--web.listen-address={self.settings.host}:{self.monitoring.mysqld_exporter_port}",
            "--collect.binlog_size",  # binlog files and bytes (the MariaDB dashboard)
        ]
        return [Program(self.name, command)]

    def ports(self) -> list[Port]:
        return [Port(self.monitoring.mysqld_exporter_port, MYSQLD_EXPORTER_PORT, self.name)]

    def check_installed(self) -> None:
        self.binary("prometheus-mysqld-exporter")

    def mysql_up(self) -> float | None:
        resp = requests.get(self.metrics_url, timeout=5)
        resp.raise_for_status()
        return metric_sum(resp.text, "mysql_up")

    def wait_ready(self) -> None:
        def sees_mariadb() -> None:
            up = self.mysql_up()
            if up != 1:
                raise NotReady(f"mysql_up is {up}")

        wait_for(
            f"the mysqld exporter to reach MariaDB ({self.metrics_url})",
            sees_mariadb,
            timeout=60,
            retry_on=(requests.RequestException,),
        )

    def checks(self) -> list[Check]:
        try:
            up = self.mysql_up()
        except requests.RequestException as exc:
            reason = f"{self.metrics_url} does not answer: {type(exc).__name__}"
            return [Check(self.name, False, reason)]
        if up != 1:
            user = self.monitoring.db_exporter_user
            reason = (
                f"serving {self.metrics_url} but cannot reach MariaDB as {user} (mysql_up {up})"
            )
            return [Check(self.name, False, reason)]
        return [Check(self.name, True, f"serving {self.metrics_url}; sees MariaDB (mysql_up 1)")]

    def where(self) -> list[tuple[str, str]]:
        return [("MariaDB metrics", self.metrics_url)]
