"""Prometheus 2.42 (Debian package, its own service kept off): scrapes every
component with the jobs of the repository's ``prometheus.yml`` and evaluates
``prometheus/rules``.

Its configuration directory ``<runtime>/conf/prometheus`` holds a verbatim copy of
prometheus.yml and the rules, and target files rendered from the settings
(orderstream/monitoring/config.py). ``promtool check config`` runs before anything starts, so
a syntax error stops ``orderstream stack start`` naming the file and line; on a running stack
a changed configuration is applied with a reload.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from orderstream.monitoring import checks, config
from orderstream.monitoring.alerts import WATCHDOG
from orderstream.monitoring.prometheus_api import MonitoringApiError, PrometheusClient
from orderstream.monitoring.settings import PROMETHEUS_PORT
from orderstream.poll import NotReady, WaitTimeout, wait_for
from orderstream.stack.components.base import (
    Check,
    File,
    Port,
    Program,
    StackContext,
    StackError,
)
from orderstream.stack.components.monitored import MonitoringComponent

RETENTION = "7d"


class Prometheus(MonitoringComponent):
    name = "prometheus"

    def __init__(self, ctx: StackContext) -> None:
        super().__init__(ctx)
        self.client = PrometheusClient(self.monitoring.prometheus_url, timeout=3)

    @property
    def conf_dir(self) -> Path:
        return self.layout.conf / "prometheus"

    @property
    def data_dir(self) -> Path:
        return self.layout.data / "prometheus"

    def rendered(self) -> dict[str, str]:
        rules = {p.name: p.read_text() for p in sorted(self.rules_dir.glob("*.yml"))}
        config_text = (self.layout.repo / "prometheus.yml").read_text()
        return config.prometheus_files(self.monitoring, config_text, rules)

    @property
    def rules_dir(self) -> Path:
        return self.layout.repo / "prometheus" / "rules"

    def files(self) -> list[File]:
        return [File(self.conf_dir / rel, text) for rel, text in self.rendered().items()]

    def programs(self) -> list[Program]:
        command = [
            str(self.binary("prometheus")),
            f"--config.file={self.conf_dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--storage.tsdb.retention.time={RETENTION}",
            f"--web.listen-address={self.settings.host}:{self.monitoring.prometheus_port}",
            f"--web.external-url={self.monitoring.prometheus_url}",
            "--web.enable-lifecycle",  # POST /-/reload applies a changed configuration
        ]
        return [Program(self.name, command, stopwaitsecs=30)]

    def ports(self) -> list[Port]:
        return [Port(self.monitoring.prometheus_port, PROMETHEUS_PORT, self.name)]

    def check_installed(self) -> None:
        """The binaries exist and the configuration passes promtool, before anything starts."""
        promtool = self.binary("promtool")
        self.binary("prometheus")
        with tempfile.TemporaryDirectory() as tmp:
            for rel, text in self.rendered().items():
                (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
                (Path(tmp) / rel).write_text(text)
            try:
                checks.check_prometheus_config(promtool, Path(tmp))
            except checks.ConfigInvalid as exc:
                raise StackError(str(exc)) from None

    def prepare(self) -> None:
        # rule files deleted from the repository must not linger in the rendered copy
        wanted = {self.conf_dir / rel for rel in self.rendered()}
        for path in (self.conf_dir / "rules").glob("*.yml"):
            if path not in wanted:
                path.unlink()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.ctx.supervisor.program(self.name).running:
            try:
                self.client.reload()  # picks up changed rules and targets; a no-op otherwise
            except MonitoringApiError as exc:
                raise StackError(f"prometheus: {exc}") from None

    def wait_ready(self) -> None:
        def ready() -> None:
            state = self.ctx.supervisor.program(self.name)
            if state.state == "FATAL":
                raise StackError(f"prometheus {state.state}: see {self.ctx.log_of(self.name)}")
            if not self.client.ready():
                raise NotReady(f"{self.monitoring.prometheus_url}/-/ready does not answer 200")

        wait_for("Prometheus to be ready", ready, timeout=60)

    def after_start(self) -> None:
        """Wait for the first scrape of every target and evaluation of every rule, so that
        ``orderstream status`` right after start reports what Prometheus sees, not 'unknown'.
        A target that stays down is for ``status`` to report: it does not fail the start."""

        def first_round() -> None:
            pending = [
                t["labels"].get("instance", "?")
                for t in self.client.targets()
                if t["health"] == "unknown"
            ]
            pending += [
                r["name"]
                for g in self.client.rule_groups()
                for r in g["rules"]
                if r.get("health") == "unknown"
            ]
            if pending:
                raise NotReady(f"not scraped or evaluated yet: {', '.join(pending)}")

        try:
            wait_for(
                "Prometheus' first scrape of every target",
                first_round,
                timeout=45,
                interval=1,
                retry_on=(MonitoringApiError,),
            )
        except WaitTimeout as exc:
            self.ctx.say(f"prometheus: {exc}")

    def checks(self) -> list[Check]:
        url = self.monitoring.prometheus_url
        if not self.client.ready():
            reason = f"{url} is not ready (see {self.ctx.log_of(self.name)})"
            return [Check(self.name, False, reason), Check("scrape-targets", False, reason)]
        try:
            rules = [r for g in self.client.rule_groups() for r in g["rules"]]
            targets = self.client.targets()
            firing = [
                a for a in self.client.alerts()
                if a["state"] == "firing" and a["labels"].get("alertname") != WATCHDOG
            ]  # fmt: skip
        except MonitoringApiError as exc:
            return [Check(self.name, False, str(exc)), Check("scrape-targets", False, str(exc))]
        want = len(config.rule_names(self.rendered_rules()))
        broken = sorted({r["name"] for r in rules if r.get("health") == "err"})
        detail = f"ready at {url}; {len(rules)}/{want} rules loaded, {len(firing)} alerts firing"
        detail += " besides the Watchdog (orderstream alerts)"
        if broken:
            detail += f"; rules failing: {', '.join(broken)}"
        down = sorted(
            f"{t['labels'].get('instance', t['scrapeUrl'])} ({t.get('lastError') or t['health']})"
            for t in targets
            if t["health"] != "up"
        )
        targets_detail = f"{len(targets) - len(down)}/{len(targets)} up"
        if down:
            targets_detail += f"; down: {', '.join(down)}"
        return [
            Check(self.name, len(rules) == want and not broken, detail),
            Check("scrape-targets", bool(targets) and not down, targets_detail),
        ]

    def rendered_rules(self) -> list[str]:
        return [p.read_text() for p in sorted(self.rules_dir.glob("*.yml"))]

    def where(self) -> list[tuple[str, str]]:
        return [("Prometheus", self.monitoring.prometheus_url)]

    def purge_paths(self) -> list[Path]:
        return [self.data_dir]
