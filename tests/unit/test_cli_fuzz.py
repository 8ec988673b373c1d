"""Fuzzing the arguments of `orderstream loadgen` and `orderstream reconcile`.

Any value of any argument is either accepted (and then within its documented range) or
refused with exit code 2 and one line on stderr that names the argument: never a traceback,
never a multi-line message (a value with a newline is shown quoted), never a silent fix-up.
Only values that ``parse_options`` refuses reach ``main()``, and then with the database and
Kafka pointed at a closed port: no test may ever write into a running stack.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import socket
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderstream.loadgen import cli as loadgen
from orderstream.reconcile import cli as reconcile

FUZZ = settings(max_examples=300, deadline=None)

numbers_as_text = st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e400", "-1e400", "1_000", " 5 ", "5\n", "-0", "0x10", "1s", "5m", "2h",
                     "1e308h", "9" * 5000, "2001-01-01", "2001-01-01T00:00:00+25:00",
                     "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "KRW,\nUSD"]),
)
values = st.one_of(st.text(max_size=30), numbers_as_text)

LOADGEN_ARGS = {
    "rate": "--rate", "duration": "--duration", "seed": "--seed", "customers": "--customers",
    "currencies": "--currencies", "illegal_rate": "--illegal-rate", "first_id": "--first-id",
    "max_batch": "--max-batch", "retry_seconds": "--retry-seconds",
}
RECONCILE_ARGS = {
    "start": "--from", "end": "--to", "wait": "--wait", "max_rows": "--max-rows",
    "grace": "--grace",
}


def namespace(configure: Callable[[argparse.ArgumentParser], None], **kw: str) -> Any:
    parser = argparse.ArgumentParser()
    configure(parser)
    args = parser.parse_args([])
    for name, value in kw.items():
        setattr(args, name, value)
    return args


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def refused_in_one_line(run: Callable[[list[str]], int], flag: str, value: str) -> None:
    """``run`` must refuse ``--flag=value`` with exit 2 and one line naming the flag."""
    port = _closed_port()
    nowhere = {"ORDERSTREAM_DB_PORT": str(port), "ORDERSTREAM_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}"}
    err = io.StringIO()
    with (
        mock.patch.dict(os.environ, nowhere),
        contextlib.redirect_stderr(err),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        code = run([f"{flag}={value}"])
    text = err.getvalue()
    assert code == 2, text
    assert text.count("\n") == 1 and text.endswith("\n"), text
    assert flag in text and "Traceback" not in text, text


def check_loadgen_options(opts: loadgen.Options) -> None:
    assert math.isfinite(opts.rate) and opts.rate > 0
    assert opts.duration is None or (math.isfinite(opts.duration) and opts.duration > 0)
    assert opts.customers >= 1 and opts.max_batch >= 1
    assert 0 <= opts.illegal_rate <= 1 and math.isfinite(opts.retry_seconds)
    assert opts.retry_seconds >= 0 and opts.currencies
    assert opts.first_id is None or 1 <= opts.first_id < 2**63  # BIGINT


@FUZZ
@given(st.sampled_from(sorted(LOADGEN_ARGS)), values)
def test_loadgen_argument_values(name: str, value: str) -> None:
    args = namespace(loadgen.configure, **{name: value})
    try:
        opts = loadgen.parse_options(args, default_rate=2.0)
    except loadgen.UsageError as exc:
        message = str(exc)
        assert LOADGEN_ARGS[name] in message and "\n" not in message, message
        refused_in_one_line(loadgen.SUBCOMMAND.run_alone, LOADGEN_ARGS[name], value)
        return
    check_loadgen_options(opts)


@FUZZ
@given(st.sampled_from(sorted(RECONCILE_ARGS)), values)
def test_reconcile_argument_values(name: str, value: str) -> None:
    args = namespace(reconcile.configure, **{name: value})
    try:
        opts = reconcile.parse_options(args)
    except reconcile.UsageError as exc:
        message = str(exc)
        assert RECONCILE_ARGS[name] in message and "\n" not in message, message
        refused_in_one_line(reconcile.SUBCOMMAND.run_alone, RECONCILE_ARGS[name], value)
        return
    assert math.isfinite(opts.wait) and opts.wait >= 0
    assert math.isfinite(opts.grace) and opts.grace >= 0 and opts.max_rows >= 1
    for t in (opts.start, opts.end):
        assert t is None or t.utcoffset() is not None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("rate", "-1\n"), ("duration", "1e308h"), ("first_id", str(2**63)),
        ("currencies", "KRW,U\nSD"), ("illegal_rate", "2\n"), ("retry_seconds", "-1\n"),
        ("customers", "0\n"), ("max_batch", "0\n"),
    ],
)
def test_loadgen_values_found_by_fuzzing(name: str, value: str) -> None:
    with pytest.raises(loadgen.UsageError):
        loadgen.parse_options(namespace(loadgen.configure, **{name: value}), default_rate=2.0)
    refused_in_one_line(loadgen.SUBCOMMAND.run_alone, LOADGEN_ARGS[name], value)


@pytest.mark.parametrize(
    ("name", "value"),
    [("start", "9999-12-31T23:59:59-01:00"), ("end", "9999-12-31T23:59"), ("wait", "inf"),
     ("max_rows", "-3"), ("grace", "nan")],
)
def test_reconcile_values_found_by_fuzzing(name: str, value: str) -> None:
    with pytest.raises(reconcile.UsageError):
        reconcile.parse_options(namespace(reconcile.configure, **{name: value}))
    refused_in_one_line(reconcile.SUBCOMMAND.run_alone, RECONCILE_ARGS[name], value)
