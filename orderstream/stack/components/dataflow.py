"""The Bytewax dataflow ``dataflows.orders``, supervised with recovery on."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import requests

from orderstream import knobs
from orderstream.poll import NotReady, wait_for
from orderstream.stack import liveness
from orderstream.stack.components.base import Check, Component, Port, Program, StackError
from orderstream.stack.kafka_admin import topic_end_total

#: Recovery partitions created once by `python -m bytewax.recovery DIR N`.
RECOVERY_PARTITIONS = 2
DATAFLOW_MODULE = "dataflows.orders"
#: A counter the dataflow exports from its start: proof that it serves its own metrics.
READY_METRIC = "orders_events_in_total"
#: Bytewax's consumer-lag gauge: a sample per source partition once the partition is built.
LAG_METRIC = "bytewax_kafka_consumer_lag"
#: Seconds between the two samples that tell progress from a stall.
PROGRESS_SAMPLE_S = 3.0


def metric_sum(text: str, name: str) -> float | None:
    """Sum of a metric's samples in Prometheus text format (None when absent)."""
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and line[len(name) : len(name) + 1] in {" ", "{"}
    ]
    return sum(values) if values else None


def judge_progress(first: tuple[float, float, int], second: tuple[float, float, int]) -> Check:
    """Up when it read input between the samples, or when there was nothing to read."""
    (events1, _, end1), (events2, lag2, end2) = first, second
    read = events2 - events1
    total = f"{events2:.0f} change events read since its start"
    if read > 0:
        return Check("dataflow", True, f"consuming: {read:.0f} in {PROGRESS_SAMPLE_S:g}s; {total}")
    if lag2 <= 0 and end1 == end2 and end2 >= 0:
        return Check("dataflow", True, f"idle: nothing to consume; {total}")
    backlog = f"consumer lag {lag2:.0f}" + (f", {end2 - end1} new" if end2 > end1 else "")
    return Check("dataflow", False, f"stalled: read nothing in {PROGRESS_SAMPLE_S:g}s ({backlog})")


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
        first_pid: list[int] = []

        def reading_its_topic() -> None:
            # RUNNING: it has outlived supervisor's startsecs; the consumer-lag samples appear
            # once its Kafka source partitions are built (recovery state checked against the
            # topic); a restart on the way is a failure, reported with the dataflow's own error
            state = self.ctx.supervisor.program(self.name)
            first_pid[:1] = first_pid[:1] or ([state.pid] if state.pid else [])
            if state.state in {"FATAL", "BACKOFF", "EXITED"} or (
                first_pid and state.pid and state.pid != first_pid[0]
            ):
                raise StackError(f"dataflow does not stay up: {self.failure_reason()}")
            if not state.running:
                raise NotReady(f"dataflow {state.state}")
            if metric_sum(requests.get(url, timeout=2).text, LAG_METRIC) is None:
                raise NotReady(f"dataflow metrics lack {LAG_METRIC}: its source is not built")

        wait_for(
            f"the dataflow to read its topic ({url})",
            reading_its_topic,
            timeout=120,
            interval=1,
            retry_on=(requests.RequestException,),
        )

    def failure_reason(self) -> str:
        log = self.ctx.log_of(self.name)
        error = liveness.last_error_line(liveness.tail_lines(log))
        return error or f"see {log}"

    def sample(self) -> tuple[float, float, int] | None:
        """(events read, consumer lag, CDC topic end offsets) now; None when the metrics
        endpoint does not answer."""
        try:
            resp = requests.get(self.settings.dataflow_metrics_url, timeout=3)
            resp.raise_for_status()
        except requests.RequestException:
            return None
        events = metric_sum(resp.text, READY_METRIC) or 0.0
        lag = metric_sum(resp.text, LAG_METRIC) or 0.0
        return events, lag, topic_end_total(self.settings, self.settings.topics.cdc)

    def checks(self) -> list[Check]:
        url = self.settings.dataflow_metrics_url
        exits = liveness.recent_exits(self.layout.logs / "supervisord.log")[self.name]
        if exits:
            window = liveness.RESTART_WINDOW_S
            detail = f"restarted {exits} time(s) in the last {window}s: {self.failure_reason()}"
            return [Check(self.name, False, detail)]
        first = self.sample()
        if first is None:
            detail = f"metrics endpoint {url} does not answer: {self.failure_reason()}"
            return [Check(self.name, False, detail)]
        time.sleep(PROGRESS_SAMPLE_S)
        second = self.sample()
        if second is None:
            return [Check(self.name, False, f"metrics endpoint {url} stopped answering")]
        return [judge_progress(first, second)]

    def where(self) -> list[tuple[str, str]]:
        t = self.settings.topics
        outputs = ", ".join((t.processed, t.revenue, t.transitions, t.dlq))
        return [("dataflow metrics", self.settings.dataflow_metrics_url), ("outputs", outputs)]

    def purge_paths(self) -> list[Path]:
        return [self.layout.recovery]
