"""``orderstream reconcile``: ground truth (SQL) versus the dataflow's topics (Kafka).

:func:`add_parser` registers the subcommand on the main CLI; :func:`check` runs one pass
and returns a :class:`~.compare.Report`; :func:`main` adds the ``--wait`` polling loop.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pymysql

from orderstream.reconcile import compare, truth, wire
from orderstream.reconcile.model import align_up
from orderstream.reconcile.topics import TopicReadError, read_latest
from orderstream.reconcile.truth import Truth
from orderstream.settings import Settings, SettingsError
from orderstream.subcommand import Subcommand

PROG = "orderstream reconcile"
EXIT_OK, EXIT_MISMATCH, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_STILL_OPEN = 0, 1, 2, 3, 4
POLL_SECONDS = 5.0
GRACE_SECONDS = 5.0  # default --grace

DESCRIPTION = """\
Recompute the pipeline's windowed aggregates from order_status_history (the independent
ground truth, in SQL) and compare them to the latest record per key on the revenue and
status-transition topics; check that processed-orders holds the latest version of every
order. Prints a diff (window, currency/transition, field, expected, actual).

The topics are read first (each to the end offsets it has then), the database after them,
in one snapshot. Windows are ORDERSTREAM_WINDOW_SECONDS long, aligned to the UTC epoch. A
window whose end is later than T - ORDERSTREAM_ALLOWED_LATENESS_SECONDS - grace (T: when the
topic reads began) is open and not judged; an order changed after that is pending. Changes
written while reconcile runs are therefore never mismatches. Transition timings are compared
only when the dataflow timed every transition of the window (untimed_count 0); counts always.
"""

EPILOG = """\
Exit codes: 0 everything closed matches (to the cent); 1 mismatches; 2 bad arguments or
settings; 3 database or Kafka unreachable, or a topic missing; 4 windows still open when
--wait ran out.
"""


class UsageError(ValueError):
    pass


class ComponentError(RuntimeError):
    """A component (database, Kafka, topic) could not be read; the message names it."""


@dataclass(frozen=True)
class Options:
    start: datetime | None
    end: datetime | None
    wait: float
    max_rows: int
    grace: float = GRACE_SECONDS


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``reconcile`` on the main CLI's ``add_subparsers()`` object."""
    return SUBCOMMAND.add_to(subparsers)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", metavar="T", default=None,
                        help="only windows starting at or after T (ISO-8601, UTC if no offset)")
    parser.add_argument("--to", dest="end", metavar="T", default=None,
                        help="only windows starting before T (ISO-8601, UTC if no offset);"
                        " default: the window under way when the command starts")
    parser.add_argument("--wait", metavar="S", default="0",
                        help="re-check every 5s for up to S seconds while windows are open or"
                        " results differ (the pipeline may lag); default 0: check once")
    parser.add_argument("--max-rows", metavar="N", default="200",
                        help="most diff rows to print; default 200")
    parser.add_argument("--grace", metavar="S", default=f"{GRACE_SECONDS:g}",
                        help="seconds the dataflow may take, after the allowed lateness, to"
                        f" publish a result before it is judged; default {GRACE_SECONDS:g}")
    parser.set_defaults(func=main)


# Times must leave room for aligning up to a window boundary: years 1..9998.
_EARLIEST, _LATEST = datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)


def parse_time(name: str, text: str) -> datetime:
    raw = text.strip()
    try:
        t = datetime.fromisoformat(raw)
        t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    except (ValueError, OverflowError):
        raise UsageError(f"{name}: cannot parse {text!r} as an ISO-8601 time") from None
    if not _EARLIEST <= t < _LATEST:
        raise UsageError(f"{name}: {text!r} is out of range (years 1 to 9998)")
    return t


def _seconds(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{name} must be a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise UsageError(f"{name} must be a finite number of seconds >= 0, got {text!r}")
    return value


def parse_options(args: argparse.Namespace) -> Options:
    start = None if args.start is None else parse_time("--from", args.start)
    end = None if args.end is None else parse_time("--to", args.end)
    if start is not None and end is not None and end <= start:
        raise UsageError("--to must be later than --from")
    wait = _seconds("--wait", args.wait)
    grace = _seconds("--grace", args.grace)
    try:
        max_rows = int(args.max_rows)
    except ValueError:
        raise UsageError(f"--max-rows must be an integer, got {args.max_rows!r}") from None
    if max_rows < 1:
        raise UsageError(f"--max-rows must be >= 1, got {args.max_rows!r}")
    return Options(start, end, wait, max_rows, grace)


# --- one pass --------------------------------------------------------------------------------


def _connect(settings: Settings) -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
    return pymysql.connect(
        host=settings.host, port=settings.db_port, user=settings.db_app_user,
        password=settings.db_app_password, database=settings.db_name,
        connect_timeout=5, read_timeout=120, init_command="SET time_zone = '+00:00'",
    )


def read_database(settings: Settings, lo: datetime, hi: datetime) -> Truth:
    """The ground truth for windows in [lo, hi); raises :class:`ComponentError`."""
    where = f"database {settings.db_app_user}@{settings.host}:{settings.db_port}/{settings.db_name}"
    try:
        conn = _connect(settings)
        try:
            return truth.read_truth(conn, settings.window_seconds, lo, hi)
        finally:
            conn.close()
    except pymysql.err.Error as exc:
        detail = f"({exc.args[0]}) {exc.args[1]}" if len(exc.args) >= 2 else str(exc)
        raise ComponentError(f"{where}: {detail}") from None


def check(
    settings: Settings,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    grace: float = GRACE_SECONDS,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    read_topic: Callable[[str, str], dict[bytes | None, bytes | None]] = read_latest,
    read_db: Callable[[Settings, datetime, datetime], Truth] = read_database,
) -> compare.Report:
    """Ground truth and topics for windows starting in [start, end) (both aligned up to a
    window boundary), compared. Raises :class:`ComponentError` when something is unreachable.

    Order matters: the topics first, then the database. Read the other way round, a load
    running meanwhile puts processed-orders ahead of the database snapshot, which no rule can
    tell from a real error. This way the database can only be ahead, and the :class:`Cutoff`
    taken before the topic reads says which of its changes were due on the topics.
    """
    w = settings.window_seconds
    lo = align_up(start, w) if start else truth.FAR_PAST
    hi = align_up(end, w) if end else truth.FAR_FUTURE
    cutoff = compare.Cutoff(
        read_at=now(),
        lateness=timedelta(seconds=settings.allowed_lateness_seconds),
        grace=timedelta(seconds=grace),
    )
    try:
        bootstrap = settings.bootstrap_servers
        revenue_raw = read_topic(bootstrap, settings.topic_revenue)
        transitions_raw = read_topic(bootstrap, settings.topic_transitions)
        processed_raw = read_topic(bootstrap, settings.topic_processed)
    except TopicReadError as exc:
        raise ComponentError(str(exc)) from None
    db = read_db(settings, lo, hi)
    revenue_actual, bad_revenue = wire.parse_revenue_topic(settings.topic_revenue, revenue_raw)
    transitions_actual, bad_transitions = wire.parse_transition_topic(
        settings.topic_transitions, transitions_raw
    )
    processed, bad_processed = wire.parse_processed_topic(settings.topic_processed, processed_raw)

    def in_range(ws: datetime) -> bool:
        return lo <= ws < hi

    def window_open(ws: datetime) -> bool:
        return cutoff.window_open(ws, w)

    revenue_section, open_r = compare.compare_revenue(
        db.revenue, revenue_actual, window_seconds=w, in_range=in_range, window_open=window_open
    )
    transitions_section, open_t = compare.compare_transitions(
        db.transitions, transitions_actual, window_seconds=w, in_range=in_range,
        window_open=window_open,
    )
    processed_section = compare.compare_processed(
        db.orders, processed, pending=cutoff.order_pending
    )
    bad_section = compare.bad_record_diffs(
        [*bad_revenue, *bad_transitions, *bad_processed], in_range
    )
    return compare.Report(
        window_seconds=w,
        lateness_seconds=settings.allowed_lateness_seconds,
        lo=lo,
        hi=None if end is None else hi,
        sections=(revenue_section, transitions_section, processed_section, bad_section),
        open_windows=tuple(sorted(open_r | open_t)),
        grace_seconds=grace,
    )


# --- the command -------------------------------------------------------------------------------


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def main(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    try:
        settings = Settings.from_env()
        opts = parse_options(args)
    except (UsageError, SettingsError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    stop = stop or threading.Event()
    deadline = time.monotonic() + opts.wait
    # Without --to, judge the windows that had begun when the command started: under a
    # continuous load a new window always opens, and --wait would otherwise never settle.
    end = opts.end if opts.end is not None else datetime.now(UTC)
    while True:
        try:
            report = check(settings, start=opts.start, end=end, grace=opts.grace)
        except ComponentError as exc:
            _error(str(exc))
            return EXIT_UNREACHABLE
        settled = report.ok and not report.open
        left = deadline - time.monotonic()
        if settled or left <= 0 or stop.is_set():
            break
        print(
            f"{PROG}: {len(report.diffs)} differences, {report.open} open;"
            f" re-checking ({left:.0f}s left)",
            file=sys.stderr, flush=True,
        )
        if stop.wait(min(POLL_SECONDS, left)):
            break
    print(compare.format_report(report, max_rows=opts.max_rows), flush=True)
    if not report.ok:
        return EXIT_MISMATCH
    if report.open and opts.wait > 0:
        return EXIT_STILL_OPEN
    return EXIT_OK


SUBCOMMAND = Subcommand(
    name="reconcile",
    help="audit the dataflow's output against the database (exit 0 only if it matches)",
    description=DESCRIPTION,
    epilog=EPILOG,
    configure=configure,
)
