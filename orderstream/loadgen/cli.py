"""``orderstream loadgen``: argument parsing, signal handling and wiring of planner, writer
and pacing loop. :func:`add_parser` registers the subcommand on the main CLI."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

import pymysql

from orderstream import contract, knobs
from orderstream.db import connect, describe, is_connection_error
from orderstream.knobs import Database, SettingsError
from orderstream.loadgen.planner import PlanConfig, plan
from orderstream.loadgen.progress import Progress, summary_line
from orderstream.loadgen.runner import RunStats, run_schedule
from orderstream.loadgen.writer import OrderWriter, WriterError
from orderstream.subcommand import Subcommand

PROG = "orderstream loadgen"
EXIT_OK, EXIT_USAGE, EXIT_DB = 0, 2, 3
FIRST_ID_LIMIT = 2**63  # orders.id is a signed BIGINT

DESCRIPTION = """\
Write realistic e-commerce traffic into the `shop` database as the application user:
customers and products (once, idempotent), then orders with items that walk the order
status machine (payment, cancellation, shipping, delivery, refunds, amount edits), each
change with its order_status_history row in the same transaction.

The rate counts ORDER CHANGES per second: inserts of new orders plus updates of existing
ones (status changes and amount edits). It is held open-loop: changes are due on a fixed
schedule and go out in batched transactions when the database is slow. The same --seed
(with the same --rate, --customers, --currencies, --illegal-rate) gives the same sequence
of changes. Ctrl-C or SIGTERM stops cleanly after the transaction in flight.
"""

EPILOG = """\
database: ORDERSTREAM_HOST, ORDERSTREAM_DB_PORT, ORDERSTREAM_DB_APP_USER,
ORDERSTREAM_DB_APP_PASSWORD. Exit codes: 0 done or stopped, 2 bad arguments or settings,
3 database unreachable or failed.
"""


class UsageError(ValueError):
    """A bad argument; the message starts with the argument's name."""


@dataclass(frozen=True)
class Options:
    rate: float
    duration: float | None
    seed: int
    customers: int
    currencies: tuple[str, ...]
    illegal_rate: float
    first_id: int | None
    max_batch: int
    retry_seconds: float


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``loadgen`` on the main CLI's ``add_subparsers()`` object."""
    return SUBCOMMAND.add_to(subparsers)


def configure(parser: argparse.ArgumentParser) -> None:
    # Values are parsed in main() rather than by argparse types, so a bad value gives one
    # line naming the argument (argparse would add the whole usage text).
    parser.add_argument(
        "--rate", metavar="R", default=None,
        help="order changes (inserts + updates) per second; default ORDERSTREAM_DEMO_RATE (2)",
    )
    parser.add_argument(
        "--duration", metavar="D", default=None,
        help="how long to run: seconds, or with a unit (90s, 5m, 1h); default until stopped",
    )
    parser.add_argument("--seed", metavar="S", default=None,
                        help="random seed (integer); default random, printed in the summary")
    parser.add_argument("--customers", metavar="N", default="1000",
                        help="customers to draw from (created if missing); default 1000")
    parser.add_argument("--currencies", metavar="LIST", default="KRW,USD,EUR",
                        help="comma-separated ISO codes of order currencies; default KRW,USD,EUR"
                        f" (known: {','.join(sorted(contract.KNOWN_CURRENCIES))})")
    parser.add_argument("--illegal-rate", metavar="P", default="0",
                        help="fraction in [0, 1] of changes made illegal status transitions;"
                        " default 0")
    parser.add_argument("--first-id", metavar="N", default=None,
                        help="first order id to use; default the next multiple of 1000000"
                        " above the highest order id below 10^12 (ids from 10^12 up are"
                        " left to tests and hand-written data)")
    parser.add_argument("--max-batch", metavar="N", default="500",
                        help="most changes per transaction when catching up; default 500")
    parser.add_argument("--retry-seconds", metavar="S", default="60",
                        help="how long to keep retrying a lost database connection; default 60")
    parser.set_defaults(func=main)


# --- argument parsing (pure) ---------------------------------------------------------------


def parse_options(args: argparse.Namespace, *, default_rate: float) -> Options:
    rate = default_rate if args.rate is None else _number("--rate", args.rate)
    if not rate > 0:
        raise UsageError(f"--rate must be > 0 order changes per second, got {args.rate!r}")
    duration = None if args.duration is None else parse_duration(args.duration)
    seed = (
        int.from_bytes(os.urandom(4), "big") if args.seed is None else _integer("--seed", args.seed)
    )
    customers = _integer("--customers", args.customers)
    if customers < 1:
        raise UsageError(f"--customers must be >= 1, got {args.customers!r}")
    currencies = tuple(c.strip().upper() for c in args.currencies.split(",") if c.strip())
    if not currencies:
        raise UsageError("--currencies must name at least one currency")
    unknown = [c for c in currencies if c not in contract.KNOWN_CURRENCIES]
    if unknown:
        known = ",".join(sorted(contract.KNOWN_CURRENCIES))
        raise UsageError(f"--currencies: unknown currency {','.join(unknown)!r} (known: {known})")
    illegal_rate = _number("--illegal-rate", args.illegal_rate)
    if not 0.0 <= illegal_rate <= 1.0:
        raise UsageError(f"--illegal-rate must be within [0, 1], got {args.illegal_rate!r}")
    first_id = None if args.first_id is None else _integer("--first-id", args.first_id)
    if first_id is not None and not 1 <= first_id < FIRST_ID_LIMIT:
        raise UsageError(
            f"--first-id must be >= 1 and below 2^63 (a BIGINT), got {args.first_id!r}"
        )
    max_batch = _integer("--max-batch", args.max_batch)
    if max_batch < 1:
        raise UsageError(f"--max-batch must be >= 1, got {args.max_batch!r}")
    retry_seconds = _number("--retry-seconds", args.retry_seconds)
    if retry_seconds < 0:
        raise UsageError(f"--retry-seconds must be >= 0, got {args.retry_seconds!r}")
    return Options(rate, duration, seed, customers, tuple(dict.fromkeys(currencies)),
                   illegal_rate, first_id, max_batch, retry_seconds)


def parse_duration(text: str) -> float:
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    raw = text.strip().lower()
    scale = units.get(raw[-1:], None)
    value = _number("--duration", raw[:-1] if scale else raw)
    seconds = value * (scale or 1.0)
    if not (math.isfinite(seconds) and seconds > 0):
        raise UsageError(f"--duration must be a finite time > 0, got {text!r}")
    return seconds


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number, got {text!r}")
    return value


def _integer(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{name} must be an integer, got {text!r}") from None


# --- running -------------------------------------------------------------------------------


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` (only the main thread may install handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def main(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    """Run the load generator; returns the exit code. ``stop`` lets a caller end the run."""
    try:
        database = Database.from_env(os.environ)
        opts = parse_options(args, default_rate=knobs.demo_rate(os.environ))
    except (UsageError, SettingsError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    stop = stop or threading.Event()
    progress = Progress(sys.stderr)
    writer = OrderWriter(
        lambda: connect(database),
        first_id=opts.first_id,
        retry_seconds=opts.retry_seconds,
        stop=stop,
        on_retry=progress.message,
    )
    where = database.where
    try:
        writer.open(opts.customers)
    except pymysql.err.Error as exc:
        _error(f"{where}: {describe(exc)}")
        return EXIT_DB
    config = PlanConfig(
        rate=opts.rate, duration=opts.duration, seed=opts.seed, customers=opts.customers,
        currencies=opts.currencies, illegal_rate=opts.illegal_rate,
    )
    stats = RunStats(target_rate=opts.rate)

    def on_progress(current: RunStats) -> None:
        nonlocal stats
        stats = current
        current.errors = writer.stats.retries
        progress.update(current)

    code = EXIT_OK
    try:
        with _stop_on_signals(stop):
            stats = run_schedule(
                plan(config), writer, target_rate=opts.rate, duration=opts.duration, stop=stop,
                max_batch=opts.max_batch, on_progress=on_progress,
            )
    except (pymysql.err.Error, ConnectionError, TimeoutError) as exc:
        kind = "connection lost for good" if is_connection_error(exc) else "failed"
        progress.finish()
        _error(f"{where}: {kind}: {describe(exc)}")
        code = EXIT_DB
    except WriterError as exc:
        progress.finish()
        _error(f"{where}: {exc}")
        code = EXIT_DB
    finally:
        writer.close()
    stats.errors = writer.stats.retries
    stats.written, stats.orders = writer.stats.changes, writer.stats.orders
    progress.finish()
    print(summary_line(stats, seed=opts.seed, id_ranges=writer.stats.id_ranges), flush=True)
    return code


SUBCOMMAND = Subcommand(
    name="loadgen",
    help="write simulated order traffic into MariaDB (rate = order changes per second)",
    description=DESCRIPTION,
    epilog=EPILOG,
    configure=configure,
)
