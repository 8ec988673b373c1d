"""orderstream.poll.wait_for retries only on what the caller names as "not yet"."""

from __future__ import annotations

import pytest

from orderstream.poll import NotReady, WaitTimeout, until, wait_for


def test_returns_once_the_check_passes() -> None:
    calls: list[str | Exception] = [NotReady("no"), NotReady("still no"), "done"]

    def check() -> str:
        value = calls.pop(0)
        if isinstance(value, Exception):
            raise value
        return value

    assert wait_for("it", check, timeout=5, interval=0.01) == "done"


def test_an_unexpected_error_propagates_at_once_instead_of_timing_out() -> None:
    calls = []

    def buggy() -> None:
        calls.append(1)
        raise TypeError("a bug")

    with pytest.raises(TypeError, match="a bug"):
        wait_for("it", buggy, timeout=60, interval=0.01)
    assert len(calls) == 1


def test_named_errors_are_retried_and_the_timeout_names_what_and_why() -> None:
    def refused() -> None:
        raise ConnectionRefusedError("refused")

    with pytest.raises(WaitTimeout, match="waiting for the broker: refused"):
        wait_for("the broker", refused, timeout=0.2, interval=0.05, retry_on=(OSError,))


def test_until_waits_for_a_predicate() -> None:
    answers = iter([False, False, True])
    until("a flag", lambda: next(answers), timeout=5, interval=0.01)
    with pytest.raises(WaitTimeout, match="a flag"):
        until("a flag", lambda: False, timeout=0.1, interval=0.02)
