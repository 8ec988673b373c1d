"""The Bytewax dataflow ``dataflows.orders``, supervised with recovery on."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import requests

from orderstream import knobs
from orderstream.poll import NotReady, wait_for
from orderstream.stack.components.base import Check, Component, Port, Program, StackError

#: Recovery partitions created once by `python -m bytewax.recovery DIR N`.
RECOVERY_PARTITIONS = 2
DATAFLOW_MODULE = "dataflows.orders"
#: A counter the dataflow exports from its start: proof that it serves its own metrics.
READY_METRIC = "orders_events_in_total"


def metric_sum(text: str, name: str) -> float | None:
    """Sum of a metric's samples in Prometheus text format (None when absent)."""
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and line[len(name) : len(name) + 1] in {" ", "{"}
    ]
    return sum(values) if values else None


class Dataflow(Component):
    name = "dataflow"

    def command(self) -> list[str]:
        """`python -m bytewax.run dataflows.orders` with recovery on (-r/-s/-b) and -w workers."""
        s = self.settings
        interval = str(s.dataflow_snapshot_seconds)
        return [
            self.ctx.python,
            "-m",
            "bytewax.run",
            DATAFLOW_MODULE,
            "-w",
            str(s.dataflow_workers),
            "-r",
            str(self.layout.recovery),
            "-s",
            interval,
            "-b",
            interval,
        ]

    def programs(self) -> list[Program]:
        # Bytewax's runtime ignores SIGTERM; SIGINT stops it at once (it resumes from its last
        # recovery snapshot, so nothing is lost either way)
        env = {"PYTHONUNBUFFERED": "1"}
        return [Program(self.name, self.command(), env, stopsignal="INT")]

    def ports(self) -> list[Port]:
        port = self.settings.dataflow_metrics_port
        return [Port(port, knobs.DATAFLOW_METRICS_PORT, self.name)]

    def prepare(self) -> None:
        recovery = self.layout.recovery
        if recovery.exists():
            return
        self.ctx.say(f"initialising {RECOVERY_PARTITIONS} Bytewax recovery partitions")
        recovery.mkdir(parents=True)
        result = subprocess.run(
            [self.ctx.python, "-m", "bytewax.recovery", str(recovery), str(RECOVERY_PARTITIONS)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            shutil.rmtree(recovery, ignore_errors=True)
            raise StackError(f"initialising recovery partitions failed: {result.stderr.strip()}")

    def wait_ready(self) -> None:
        url = self.settings.dataflow_metrics_url

        def serving_metrics() -> None:
            # RUNNING: it has outlived supervisor's startsecs, so a crash at start-up (a bad
            # setting, an unreadable recovery snapshot) is not mistaken for health
            state = self.ctx.supervisor.program(self.name)
            if not state.running:
                reason = f"dataflow {state.state}: see {self.ctx.log_of(self.name)}"
                raise StackError(reason) if state.state == "FATAL" else NotReady(reason)
            if READY_METRIC not in requests.get(url, timeout=2).text:
                raise NotReady(f"dataflow metrics lack {READY_METRIC}")

        wait_for(
            f"the dataflow to serve {url}",
            serving_metrics,
            timeout=120,
            interval=1,
            retry_on=(requests.RequestException,),
        )

    def checks(self) -> list[Check]:
        url = self.settings.dataflow_metrics_url
        try:
            resp = requests.get(url, timeout=3)
            resp.raise_for_status()
        except requests.RequestException as exc:
            reason = f"metrics endpoint {url} does not answer: {type(exc).__name__}"
            return [Check(self.name, False, reason)]
        events_in = metric_sum(resp.text, READY_METRIC)
        if events_in is None:
            return [Check(self.name, False, f"{url} serves no {READY_METRIC}")]
        return [Check(self.name, True, f"serving {url}; {events_in:.0f} change events read")]

    def where(self) -> list[tuple[str, str]]:
        t = self.settings.topics
        outputs = ", ".join((t.processed, t.revenue, t.transitions, t.dlq))
        return [("dataflow metrics", self.settings.dataflow_metrics_url), ("outputs", outputs)]

    def purge_paths(self) -> list[Path]:
        return [self.layout.recovery]
