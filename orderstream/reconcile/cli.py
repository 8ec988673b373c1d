"""``orderstream reconcile``: ground truth (SQL) versus the dataflow's topics (Kafka).

:func:`add_parser` registers the subcommand on the main CLI; :func:`check` runs one pass
and returns a :class:`~.compare.Report`; :func:`main` adds the ``--wait`` polling loop.
"""

from __future__ import annotations

import argparse
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
from orderstream.settings import Settings, SettingsError
from orderstream.subcommand import Subcommand

PROG = "orderstream reconcile"
EXIT_OK, EXIT_MISMATCH, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_STILL_OPEN = 0, 1, 2, 3, 4
POLL_SECONDS = 5.0

DESCRIPTION = """\
Recompute the pipeline's windowed aggregates from order_status_history (the independent
ground truth, in SQL) and compare them to the latest record per key on the revenue and
status-transition topics; check that processed-orders holds the latest version of every
order. Prints a diff (window, currency/transition, field, expected, actual).

Windows are ORDERSTREAM_WINDOW_SECONDS long, aligned to the UTC epoch. A window whose end
plus ORDERSTREAM_ALLOWED_LATENESS_SECONDS is later than now is open and not judged; so is
an order changed within that time. Transition timings are compared only when the dataflow
timed every transition of the window (untimed_count 0); counts always.
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
    parser.set_defaults(func=main)


def parse_time(name: str, text: str) -> datetime:
    raw = text.strip()
    try:
        t = datetime.fromisoformat(raw)
    except ValueError:
        raise UsageError(f"{name}: cannot parse {text!r} as an ISO-8601 time") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def parse_options(args: argparse.Namespace) -> Options:
    start = None if args.start is None else parse_time("--from", args.start)
    end = None if args.end is None else parse_time("--to", args.end)
    if start is not None and end is not None and end <= start:
        raise UsageError("--to must be later than --from")
    try:
        wait = float(args.wait)
    except ValueError:
        raise UsageError(f"--wait must be a number of seconds, got {args.wait!r}") from None
    if not wait >= 0:
        raise UsageError(f"--wait must be >= 0, got {args.wait}")
    try:
        max_rows = int(args.max_rows)
    except ValueError:
        raise UsageError(f"--max-rows must be an integer, got {args.max_rows!r}") from None
    return Options(start, end, wait, max(1, max_rows))


# --- one pass --------------------------------------------------------------------------------


def _connect(settings: Settings) -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
    return pymysql.connect(
        host=settings.host, port=settings.db_port, user=settings.db_app_user,
        password=settings.db_app_password, database=settings.db_name,
        connect_timeout=5, read_timeout=120, init_command="SET time_zone = '+00:00'",
    )


def check(
    settings: Settings,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    read_topic: Callable[[str, str], dict[bytes | None, bytes | None]] = read_latest,
) -> compare.Report:
    """Ground truth and topics for windows starting in [start, end) (both aligned up to a
    window boundary), compared. Raises :class:`ComponentError` when something is unreachable."""
    w = settings.window_seconds
    lo = align_up(start, w) if start else truth.FAR_PAST
    hi = align_up(end, w) if end else truth.FAR_FUTURE
    where = f"database {settings.db_app_user}@{settings.host}:{settings.db_port}/{settings.db_name}"
    try:
        conn = _connect(settings)
        try:
            with conn.cursor() as cur:
                revenue = truth.revenue_windows(cur, w, lo, hi)
                transitions = truth.transition_windows(cur, w, lo, hi)
                orders = truth.order_versions(cur, lo, hi)
        finally:
            conn.close()
    except pymysql.err.Error as exc:
        detail = f"({exc.args[0]}) {exc.args[1]}" if len(exc.args) >= 2 else str(exc)
        raise ComponentError(f"{where}: {detail}") from None
    try:
        bootstrap = settings.bootstrap_servers
        revenue_raw = read_topic(bootstrap, settings.topic_revenue)
        transitions_raw = read_topic(bootstrap, settings.topic_transitions)
        processed_raw = read_topic(bootstrap, settings.topic_processed)
    except TopicReadError as exc:
        raise ComponentError(str(exc)) from None
    revenue_actual, bad_revenue = wire.parse_revenue_topic(settings.topic_revenue, revenue_raw)
    transitions_actual, bad_transitions = wire.parse_transition_topic(
        settings.topic_transitions, transitions_raw
    )
    processed, bad_processed = wire.parse_processed_topic(settings.topic_processed, processed_raw)

    at = now()
    lateness = settings.allowed_lateness_seconds

    def in_range(ws: datetime) -> bool:
        return lo <= ws < hi

    def window_open(ws: datetime) -> bool:
        return compare.is_open(ws, now=at, window_seconds=w, lateness=lateness)

    def pending(updated_at: datetime) -> bool:
        return updated_at + timedelta(seconds=lateness) > at

    revenue_section, open_r = compare.compare_revenue(
        revenue, revenue_actual, window_seconds=w, in_range=in_range, window_open=window_open
    )
    transitions_section, open_t = compare.compare_transitions(
        transitions, transitions_actual, window_seconds=w, in_range=in_range,
        window_open=window_open,
    )
    processed_section = compare.compare_processed(orders, processed, pending=pending)
    bad_section = compare.bad_record_diffs(
        [*bad_revenue, *bad_transitions, *bad_processed], in_range
    )
    return compare.Report(
        window_seconds=w,
        lateness_seconds=lateness,
        lo=lo,
        hi=None if end is None else hi,
        sections=(revenue_section, transitions_section, processed_section, bad_section),
        open_windows=tuple(sorted(open_r | open_t)),
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
            report = check(settings, start=opts.start, end=end)
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
