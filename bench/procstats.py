"""CPU time and peak RSS of a running process tree, from /proc (Linux only)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: Bytes per MiB, as the reports give memory.
MIB = 1024 * 1024


@dataclass(frozen=True)
class ProcessUsage:
    cpu_seconds: float  # user + system, all threads, summed over the tree
    peak_rss_bytes: int  # VmHWM, summed over the tree
    processes: int


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            found.extend(process_tree(int(child)))
    return found


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / _CLOCK_TICKS


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise ValueError(f"no VmHWM for process {pid}")


def tree_usage(pid: int) -> ProcessUsage:
    pids = process_tree(pid)
    return ProcessUsage(
        cpu_seconds=sum(cpu_seconds(p) for p in pids),
        peak_rss_bytes=sum(peak_rss_bytes(p) for p in pids),
        processes=len(pids),
    )


#: Per thread id: nanoseconds on a CPU and nanoseconds runnable but waiting for one.
Schedule = dict[int, tuple[int, int]]


@dataclass(frozen=True)
class ThreadShares:
    """How a process's busiest thread (a Bytewax worker, the pass-through's loop) spent a
    measured interval: on a CPU, and runnable but waiting for one (the machine was busy)."""

    running: float  # share of the interval, 0..1
    waiting: float


def thread_schedule(pid: int) -> Schedule:
    """Every live thread's scheduler times (``/proc/<pid>/task/<tid>/schedstat``)."""
    schedule: Schedule = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            running, waiting, _ = task.joinpath("schedstat").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended
        schedule[int(task.name)] = (int(running), int(waiting))
    return schedule


def busiest_thread(before: Schedule, after: Schedule, seconds: float) -> ThreadShares:
    """The shares of ``seconds`` of the thread that ran most between the two readings."""
    deltas = []
    for tid, (running, waiting) in after.items():
        running_before, waiting_before = before.get(tid, (0, 0))
        deltas.append((running - running_before, waiting - waiting_before))
    running_ns, waiting_ns = max(deltas, default=(0, 0))
    interval_ns = seconds * 1e9
    return ThreadShares(running=running_ns / interval_ns, waiting=waiting_ns / interval_ns)
