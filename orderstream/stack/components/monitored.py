"""What the monitoring components (Prometheus, Alertmanager, the mysqld exporter, the alert
receiver) share: their settings, and the Debian binaries they run."""

from __future__ import annotations

from pathlib import Path

from orderstream.monitoring import tools
from orderstream.monitoring.settings import MonitoringSettings
from orderstream.stack.components.base import Component, StackContext, StackError


class MonitoringComponent(Component):
    def __init__(self, ctx: StackContext) -> None:
        super().__init__(ctx)
        self.monitoring = MonitoringSettings.of(ctx.settings, ctx.env)

    def binary(self, name: str) -> Path:
        """The installed binary ``name``; a missing one is an error that says how to install."""
        try:
            return tools.binary(name)
        except tools.ToolMissing as exc:
            raise StackError(str(exc)) from None
