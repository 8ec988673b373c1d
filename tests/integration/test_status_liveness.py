"""`orderstream status` exits non-zero, naming the part, for a stopped broker, two stopped
brokers (under-min-ISR partitions), a stalled dataflow and a crash-looping dataflow; SIGTERM
stops the live dataflow promptly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from orderstream.settings import Settings
from orderstream.stack.liveness import RESTART_WINDOW_S
from orderstream.stack.supervisor import Supervisor
from tests.integration.conftest import kill_and_hold_down, poll_until, start_program


def status(settings: Settings) -> tuple[int, dict[str, Any]]:
    """Run the real CLI: its exit code and its JSON report."""
    env = {**os.environ, "ORDERSTREAM_RUNTIME_DIR": str(settings.runtime_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "orderstream", "status", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.stdout.strip(), f"status printed no JSON; stderr: {result.stderr[-2000:]}"
    return result.returncode, json.loads(result.stdout)


def detail(report: dict[str, Any], component: str) -> tuple[bool, str]:
    """The component's own line (a failing program also gets a supervisord line by name)."""
    check = next(c for c in report["checks"] if c["component"] == component)
    return bool(check["healthy"]), str(check["detail"])


def wait_healthy(settings: Settings, timeout: float) -> None:
    poll_until("orderstream status to be healthy again", lambda: status(settings)[0] == 0, timeout)


@pytest.fixture
def brokers_restored(supervisor: Supervisor, settings: Settings) -> Iterator[None]:
    yield
    for name in ("kafka-2", "kafka-3"):
        start_program(supervisor, name)
    wait_healthy(settings, 180)


def test_stopped_brokers_are_named_and_under_min_isr_is_visible(
    settings: Settings, supervisor: Supervisor, brokers_restored: None
) -> None:
    kill_and_hold_down(supervisor, "kafka-3")
    rc, report = status(settings)
    assert rc != 0
    assert detail(report, "kafka-3")[0] is False
    assert "does not answer" in detail(report, "kafka-3")[1]
    assert detail(report, "kafka-1")[0] and detail(report, "kafka-2")[0]
    healthy, quorum = detail(report, "kraft-quorum")
    assert not healthy and "2/3 voters" in quorum and "behind: 3" in quorum
    assert "kafka-3" in report["unhealthy"]

    kill_and_hold_down(supervisor, "kafka-2")
    rc, report = status(settings)
    assert rc != 0
    assert not detail(report, "kafka-2")[0] and not detail(report, "kafka-3")[0]
    assert detail(report, "kafka-1")[0]
    healthy, isr = detail(report, "kafka-isr")
    assert not healthy and "under min.insync.replicas=2" in isr


def test_stalled_dataflow_is_unhealthy(settings: Settings, supervisor: Supervisor) -> None:
    pid = supervisor.program("dataflow").pid
    os.kill(pid, signal.SIGSTOP)
    try:
        rc, report = status(settings)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert rc != 0
    healthy, why = detail(report, "dataflow")
    assert not healthy and "does not answer" in why
    wait_healthy(settings, 60)


def test_sigterm_stops_the_dataflow_and_a_crash_loop_is_named(
    settings: Settings, supervisor: Supervisor
) -> None:
    first = supervisor.program("dataflow").pid
    os.kill(first, signal.SIGTERM)
    poll_until("the dataflow to exit on SIGTERM", lambda: not _alive(first), 15)
    log = (settings.runtime_dir / "logs" / "dataflow.log").read_text(errors="replace")
    assert "KeyboardInterrupt: stopped by SIGTERM" in log
    poll_until(
        "supervisor to restart the dataflow",
        lambda: supervisor.program("dataflow").running,
        60,
    )
    second = supervisor.program("dataflow").pid
    assert second != first
    os.kill(second, signal.SIGKILL)  # the second unexpected exit within the window
    poll_until(
        "the dataflow to be restarted",
        lambda: supervisor.program("dataflow").pid not in {0, second}
        and supervisor.program("dataflow").running,
        60,
    )
    rc, report = status(settings)
    assert rc != 0
    healthy, why = detail(report, "dataflow")
    assert not healthy and "restarted 2 time(s)" in why
    assert detail(report, "supervisord")[1].count("dataflow 2") == 1
    wait_healthy(settings, RESTART_WINDOW_S + 60)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has exited
        return stat.read().split()[2] != "Z"
