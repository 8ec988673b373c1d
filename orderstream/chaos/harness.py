"""Runs one scenario: load, fault, heal, recovery to a healthy ``status``, reconcile."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from orderstream.chaos.deadletters import DeadLetterMark
from orderstream.chaos.deadletters import describe as describe_dead_letters
from orderstream.chaos.registry import Fault, Scenario
from orderstream.poll import NotReady, WaitTimeout, wait_for
from orderstream.settings import Settings
from orderstream.stack.components import StackContext
from orderstream.stack.health import check_all
from orderstream.stack.runtime import Stack

#: Seconds of load before the fault and after recovery.
SETTLE_S = 10
RECONCILE_WAIT_S = 300


@dataclass(frozen=True)
class Result:
    scenario: str
    fault: str
    load: str
    downtime_s: float
    recovery_s: float | None
    money: str
    #: How many records the dead-letter topic received, and why (``3 (window_expired 3)``).
    dead_letters: str
    note: str
    passed: bool

    def line(self) -> str:
        recovery = "never" if self.recovery_s is None else f"{self.recovery_s:.0f}s"
        verdict = "PASS" if self.passed else "FAIL"
        note = f" | {self.note}" if self.note else ""
        return (
            f"{verdict} {self.scenario} | {self.fault} | load {self.load} | down "
            f"{self.downtime_s:.0f}s | recovery {recovery} | money {self.money} | "
            f"dead letters {self.dead_letters}{note}"
        )


class Chaos:
    """What scenarios act through: the stack's programs, the load, timing, the verdicts."""

    def __init__(self, settings: Settings, rate: float) -> None:
        self.settings = settings
        self.ctx = StackContext.of(settings)
        self.supervisor = self.ctx.supervisor
        self.rate = rate

    def say(self, message: str) -> None:
        print(f"orderstream chaos: {message}", file=sys.stderr, flush=True)

    # --- programs -----------------------------------------------------------------------

    def pid(self, program: str) -> int:
        return self.supervisor.program(program).pid

    def kill9(self, program: str) -> None:
        """``kill -9`` the program; supervisor restarts it."""
        pid = self.pid(program)
        self.say(f"kill -9 {program} (pid {pid})")
        os.kill(pid, signal.SIGKILL)

    def stop(self, program: str) -> None:
        self.say(f"stopping {program}")
        self.supervisor.stop(program, wait=True)

    def start(self, program: str) -> None:
        self.say(f"starting {program}")
        self.supervisor.start(program, wait=True)

    def hold(self, seconds: float) -> None:
        """Keep the fault in place for the scenario's stated duration."""
        self.say(f"holding the fault for {seconds:.0f}s")
        time.sleep(seconds)

    def admin_sql(self, sql: str) -> str:
        """Run SQL as MariaDB's socket-authenticated administrator (DDL, binlog purges); its
        output rows, tab-separated, without column names."""
        self.say(sql)
        result = subprocess.run(
            [
                self.ctx.tool("mariadb"),
                f"--socket={self.ctx.layout.mariadb_socket}",
                "--user=root",
                "--batch",
                "--skip-column-names",
                self.settings.db_name,
                "-e",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout

    def stack(self) -> Stack:
        return Stack(self.ctx)

    # --- load ---------------------------------------------------------------------------

    @contextmanager
    def load(self, rate: float | None = None) -> Iterator[None]:
        """The load generator running (as the operator would run it) until the block ends."""
        rate = self.rate if rate is None else rate
        proc = subprocess.Popen(
            [sys.executable, "-m", "orderstream", "loadgen", "--rate", f"{rate:g}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            yield
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                _, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            if proc.returncode not in (0, -signal.SIGTERM):
                self.say(f"loadgen exited {proc.returncode}: {err.strip()[-300:]}")

    # --- verdicts -----------------------------------------------------------------------

    def wait_healthy(self, timeout: float) -> float | None:
        """Seconds until ``status`` is healthy (None when it is not within ``timeout``)."""
        started = time.monotonic()

        def healthy() -> None:
            failing = [c for c in check_all(self.settings) if not c.healthy]
            if failing:
                raise NotReady("; ".join(f"{c.component}: {c.detail}" for c in failing))

        try:
            wait_for("status to be healthy", healthy, timeout, interval=2)
        except WaitTimeout as exc:
            self.say(str(exc))
            return None
        return time.monotonic() - started

    def dead_letters_since(self, mark: DeadLetterMark) -> str:
        try:
            return describe_dead_letters(mark.since())
        except Exception as exc:  # the line still says what happened to the scenario
            return f"unknown ({type(exc).__name__}: {exc})"

    def reconcile(self, since: datetime) -> tuple[int, str]:
        """``orderstream reconcile`` from the window ``since`` is in: its exit code and its
        report (stdout; the re-checking lines on stderr are left out)."""
        window = timedelta(seconds=self.settings.window_seconds)
        start = datetime.fromtimestamp(
            since.timestamp() // window.total_seconds() * window.total_seconds(), UTC
        )
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "orderstream",
                "reconcile",
                "--from",
                start.isoformat(),
                "--wait",
                str(RECONCILE_WAIT_S),
                "--max-rows",
                "200",
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode not in (0, 1):
            self.say(f"reconcile exited {result.returncode}: {result.stderr.strip()[-300:]}")
        return result.returncode, result.stdout or result.stderr


def reconcile_summary(report: str) -> tuple[str, list[str]]:
    """The verdict line of a ``reconcile`` report and the windows its mismatch table names
    (per-order rows have no window and are not listed)."""
    lines = report.strip().splitlines()
    results = [line.strip() for line in lines if line.startswith("RESULT:")]
    verdict = results[-1] if results else (lines[-1].strip() if lines else "no output")
    windows: list[str] = []
    in_table = False
    for line in lines:
        if line.startswith("MISMATCHES"):
            in_table = True
        elif in_table and line.startswith("  ") and line.split():
            first = line.split()[0]
            try:
                datetime.fromisoformat(first)
            except ValueError:
                continue  # the header, a per-order row ("-"), "... and N more"
            if first not in windows:
                windows.append(first)
    return verdict, windows


def name_windows(windows: list[str], most: int = 5) -> str:
    shown = ", ".join(windows[:most])
    more = f" and {len(windows) - most} more" if len(windows) > most else ""
    return f"{len(windows)} window(s): {shown}{more}" if windows else "no window named"


def run(scenario: Scenario, chaos: Chaos) -> Result:
    """Run one scenario; a scenario that raises is a FAIL line naming the error."""
    try:
        return _run(scenario, chaos)
    except Exception as exc:  # one line per scenario, whatever happened; the suite goes on
        error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        fault = Fault(0, f"aborted: {error}", ok=False)
        return result_of(scenario, chaos, fault, None, "not checked", False, "not read")


def _run(scenario: Scenario, chaos: Chaos) -> Result:
    started = datetime.now(UTC)
    chaos.say(f"{scenario.name}: {scenario.fault}")
    mark = DeadLetterMark(chaos.settings)
    recovery: float | None = None
    if scenario.under_load:
        with chaos.load():
            chaos.hold(SETTLE_S)
            fault = scenario.inject(chaos)
            recovery = chaos.wait_healthy(scenario.recovery_timeout_s)
            chaos.hold(SETTLE_S)
    else:
        fault = scenario.inject(chaos)
        recovery = chaos.wait_healthy(scenario.recovery_timeout_s)
    rc, report = chaos.reconcile(started) if recovery is not None else (-1, "not run")
    verdict, windows = reconcile_summary(report)
    dead = chaos.dead_letters_since(mark)
    if scenario.loses_changes:  # reconcile must name the windows of the loss, never say OK
        named = rc == 1 and bool(windows)
        money = (
            f"loss reported as expected in {name_windows(windows)}"
            if named
            else f"loss NOT REPORTED by window (reconcile exit {rc}: {verdict})"
        )
        return result_of(scenario, chaos, fault, recovery, money, named, dead)
    money = (
        "matches"
        if rc == 0
        else f"MISMATCH (reconcile exit {rc}: {verdict}; {name_windows(windows)})"
    )
    return result_of(scenario, chaos, fault, recovery, money, rc == 0, dead)


def result_of(
    scenario: Scenario,
    chaos: Chaos,
    fault: Fault,
    recovery: float | None,
    money: str,
    matches: bool,
    dead: str,
) -> Result:
    load = f"{chaos.rate:g}/s" if scenario.under_load else "own"
    passed = fault.ok and recovery is not None and matches
    return Result(
        scenario.name,
        scenario.fault,
        load,
        fault.downtime_s,
        recovery,
        money,
        dead,
        fault.note,
        passed,
    )
