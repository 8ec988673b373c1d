"""bench.procstats: which thread is the busiest, and its shares of an interval (from the
kernel's per-thread scheduler times)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from bench.procstats import busiest_thread, thread_schedule

SECOND_NS = 1_000_000_000


def test_the_busiest_thread_is_the_one_that_ran_most_in_the_interval() -> None:
    before = {1: (5 * SECOND_NS, 0), 2: (0, 0)}
    # Thread 1 ran longest overall but only 0.2 s in the interval; thread 3 started in it.
    after = {
        1: (5 * SECOND_NS + SECOND_NS // 5, 0),
        2: (SECOND_NS // 2, SECOND_NS // 4),
        3: (SECOND_NS // 10, 0),
    }
    shares = busiest_thread(before, after, seconds=1.0)
    assert shares.running == pytest.approx(0.5)
    assert shares.waiting == pytest.approx(0.25)


def test_no_threads_give_zero_shares() -> None:
    shares = busiest_thread({}, {}, seconds=1.0)
    assert (shares.running, shares.waiting) == (0.0, 0.0)


def test_a_spinning_thread_of_this_process_is_found_running() -> None:
    stop = threading.Event()
    spinner = threading.Thread(target=lambda: _spin_until(stop))
    before = thread_schedule(os.getpid())
    assert threading.get_native_id() in before
    started = time.perf_counter()
    spinner.start()
    tid = spinner.native_id
    assert tid is not None
    try:
        # Until the spinner has been on a CPU for 0.3 s (read while it still runs: the
        # kernel forgets a thread's times when it ends).
        deadline = time.monotonic() + 30
        while _running_ns(tid) < 0.3 * SECOND_NS:
            assert time.monotonic() < deadline, "the spinner never got 0.3 s of CPU"
        after = thread_schedule(os.getpid())
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        spinner.join()
    shares = busiest_thread(before, after, elapsed)
    assert after[tid][0] >= 0.3 * SECOND_NS and tid not in before
    assert shares.running * elapsed >= 0.3  # the spinner, or a thread that ran even more
    assert 0 < shares.running + shares.waiting <= 1.05


def _spin_until(stop: threading.Event) -> None:
    while not stop.is_set():
        pass


def _running_ns(tid: int) -> int:
    return thread_schedule(os.getpid()).get(tid, (0, 0))[0]
