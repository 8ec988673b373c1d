"""Waiting with a deadline: the one polling helper of the stack and its tools.

A check either returns (done) or raises one of the exception types the caller names as
"not yet" (a refused connection, :class:`NotReady`); anything else is a bug or a real failure
and propagates at once instead of turning into a timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryError, retry, retry_if_exception_type, stop_after_delay, wait_fixed

T = TypeVar("T")


class NotReady(Exception):
    """Raised by a check whose condition does not hold yet; the message says what is missing."""


class WaitTimeout(RuntimeError):
    """The deadline passed; the message names what was awaited and the last reason."""


def wait_for(
    what: str,
    check: Callable[[], T],
    timeout: float,
    *,
    interval: float = 0.5,
    retry_on: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``check`` until it returns; retry only on :class:`NotReady` and ``retry_on``."""

    @retry(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(interval),
        retry=retry_if_exception_type((NotReady, *retry_on)),
        reraise=False,
    )
    def attempt() -> T:
        return check()

    try:
        return attempt()
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}: {last}") from None


def until(what: str, condition: Callable[[], bool], timeout: float, interval: float = 0.5) -> None:
    """Wait for ``condition()`` to be true (a predicate rather than a raising check)."""

    def check() -> None:
        if not condition():
            raise NotReady("the condition does not hold yet")

    wait_for(what, check, timeout, interval=interval)
