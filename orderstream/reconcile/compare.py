"""Ground truth versus the dataflow's output: the comparison and the readable diff. Pure.

Rules:
- Money must match to the cent; counts exactly.
- A window with no revenue-relevant change equals a missing record, and a record whose
  values are all zero equals a missing expectation: the dataflow may or may not emit them.
- Transition timings (p50/p95/max) are compared only when both sides timed every transition
  (``untimed_count`` = 0): when the dataflow did not know when an order entered a status
  (its state evicted, or the order first seen in a snapshot) its percentiles are over a
  different population. Counts are compared always. Seconds may differ by the rounding of
  the last digit (0.001 s), because the dataflow rounds floats and the database decimals.
- Windows still open and orders whose latest change is too recent (see :class:`Cutoff`) are
  reported as open/pending, never as mismatches.
- An order whose version on processed-orders is *ahead* of the database is a mismatch: the
  topics are read before the database, so a concurrent write can only put the database ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from orderstream.reconcile.model import (
    NO_REVENUE,
    BadRecord,
    Revenue,
    RevenueKey,
    RevenueRecord,
    TransitionKey,
    TransitionRecord,
    Transitions,
    iso,
)

SECONDS_TOLERANCE = Decimal("0.001")
MISSING = "missing"
REVENUE_FIELDS = ("gross", "refunds", "adjustments", "net", "paid_count", "refund_count")
TIMING_FIELDS = ("p50_seconds", "p95_seconds", "max_seconds")


@dataclass(frozen=True)
class Diff:
    window: datetime | None  # None for per-order and malformed-record findings
    subject: str  # currency, "FROM->TO", "order 42", or the topic of a malformed record
    field: str
    expected: str
    actual: str


@dataclass(frozen=True)
class Section:
    name: str
    checked: int = 0
    open: int = 0  # windows still open / orders changed too recently to judge
    diffs: tuple[Diff, ...] = ()
    mismatched: int = 0  # keys with at least one diff
    timings_skipped: int = 0  # transition windows whose timings the dataflow could not know


@dataclass(frozen=True)
class Report:
    window_seconds: int
    lateness_seconds: int
    lo: datetime
    hi: datetime | None
    sections: tuple[Section, ...]
    open_windows: tuple[datetime, ...] = field(default=())
    grace_seconds: float = 0.0

    @property
    def diffs(self) -> list[Diff]:
        return [d for s in self.sections for d in s.diffs]

    @property
    def ok(self) -> bool:
        return not self.diffs

    @property
    def open(self) -> int:
        return sum(s.open for s in self.sections)


@dataclass(frozen=True)
class Cutoff:
    """What the topics must already hold, given when they were read.

    The audit reads the topics first, each up to the end offsets it finds, and the database
    after them. So the database may hold changes the topics cannot: everything written while
    the audit ran, and what the dataflow had not published yet when the topics were read. A
    result is due on the topics once its event time is older than :attr:`horizon`:
    ``read_at`` (when the first topic read began) minus the allowed lateness (the dataflow's
    watermark, Bytewax's EventClock rule, advances with system time) minus ``grace`` (how long
    the dataflow may take from there to the topic). Younger windows are open, younger orders
    pending. While the pipeline lags more than that, ``--wait`` re-polls until it converges.
    """

    read_at: datetime
    lateness: timedelta
    grace: timedelta

    @property
    def horizon(self) -> datetime:
        return self.read_at - self.lateness - self.grace

    def window_open(self, window_start: datetime, window_seconds: int) -> bool:
        """The window's end has not passed the horizon: the dataflow need not have closed it."""
        return window_start + timedelta(seconds=window_seconds) > self.horizon

    def order_pending(self, updated_at: datetime) -> bool:
        """Changed after the horizon (or after the topics were read): not due yet."""
        return updated_at > self.horizon


def compare_revenue(
    expected: Mapping[RevenueKey, Revenue],
    actual: Mapping[RevenueKey, RevenueRecord],
    *,
    window_seconds: int,
    in_range: Callable[[datetime], bool],
    window_open: Callable[[datetime], bool],
) -> tuple[Section, set[datetime]]:
    diffs: list[Diff] = []
    checked = opened = mismatched = 0
    open_windows: set[datetime] = set()
    for key in sorted({k for k in (*expected, *actual) if in_range(k[0])}):
        start, currency = key
        if window_open(start):
            opened += 1
            open_windows.add(start)
            continue
        checked += 1
        exp = expected.get(key, NO_REVENUE)
        record = actual.get(key)
        found: list[Diff] = []
        if record is None:
            if exp != NO_REVENUE:
                found += [
                    Diff(start, currency, name, str(getattr(exp, name)), MISSING)
                    for name in REVENUE_FIELDS
                    if getattr(exp, name) != getattr(NO_REVENUE, name)
                ]
        else:
            got = record.revenue
            found += [
                Diff(start, currency, name, str(getattr(exp, name)), str(getattr(got, name)))
                for name in REVENUE_FIELDS
                if getattr(exp, name) != getattr(got, name)
            ]
            found += _window_end_diff(start, record.window_end, currency, window_seconds)
        mismatched += bool(found)
        diffs += found
    return Section("revenue", checked, opened, tuple(diffs), mismatched), open_windows


def compare_transitions(
    expected: Mapping[TransitionKey, Transitions],
    actual: Mapping[TransitionKey, TransitionRecord],
    *,
    window_seconds: int,
    in_range: Callable[[datetime], bool],
    window_open: Callable[[datetime], bool],
) -> tuple[Section, set[datetime]]:
    diffs: list[Diff] = []
    checked = opened = mismatched = skipped = 0
    open_windows: set[datetime] = set()
    for key in sorted({k for k in (*expected, *actual) if in_range(k[0])}):
        start, from_status, to_status = key
        subject = f"{from_status}->{to_status}"
        if window_open(start):
            opened += 1
            open_windows.add(start)
            continue
        checked += 1
        exp = expected.get(key)
        record = actual.get(key)
        exp_count = exp.count if exp else 0
        found: list[Diff] = []
        if record is None:
            if exp_count:
                found.append(Diff(start, subject, "count", str(exp_count), MISSING))
        else:
            got = record.transitions
            if got.count != exp_count:
                found.append(Diff(start, subject, "count", str(exp_count), str(got.count)))
            if got.timed_count + got.untimed_count != got.count:
                found.append(
                    Diff(start, subject, "timed_count+untimed_count", str(got.count),
                         str(got.timed_count + got.untimed_count))
                )
            if exp is not None and got.untimed_count == 0 and exp.untimed_count == 0:
                found += _timing_diffs(start, subject, exp, got)
            elif exp is not None:
                skipped += 1
            found += _window_end_diff(start, record.window_end, subject, window_seconds)
        mismatched += bool(found)
        diffs += found
    section = Section("transitions", checked, opened, tuple(diffs), mismatched, skipped)
    return section, open_windows


def _timing_diffs(start: datetime, subject: str, exp: Transitions, got: Transitions) -> list[Diff]:
    found = []
    for name in TIMING_FIELDS:
        e, a = getattr(exp, name), getattr(got, name)
        same = (e is None and a is None) or (
            e is not None and a is not None and abs(e - a) <= SECONDS_TOLERANCE
        )
        if not same:
            found.append(Diff(start, subject, name, _show(e), _show(a)))
    return found


def _window_end_diff(start: datetime, end: datetime, subject: str, seconds: int) -> list[Diff]:
    want = start + timedelta(seconds=seconds)
    return [] if end == want else [Diff(start, subject, "window_end", iso(want), iso(end))]


def compare_processed(
    db_orders: Mapping[int, tuple[int, datetime]],
    processed: Mapping[int, int],
    *,
    pending: Callable[[datetime], bool],
) -> Section:
    """Every order's latest ``version`` (db) must be the latest one on processed-orders.

    ``db_orders``: order id -> (version, updated_at as aware UTC), read *after* the topic. An
    order behind (or missing) on the topic whose last change is ``pending`` (see
    :meth:`Cutoff.order_pending`) is counted as pending, not a mismatch. A version on the
    topic ahead of the database is always a mismatch: the database was read later, so no
    concurrent write explains it.
    """
    diffs: list[Diff] = []
    checked = opened = 0
    for order_id, (version, updated_at) in sorted(db_orders.items()):
        got = processed.get(order_id)
        if got == version:
            checked += 1
            continue
        if (got is None or got < version) and pending(updated_at):
            opened += 1
            continue
        checked += 1
        actual = MISSING if got is None else str(got)
        diffs.append(Diff(None, f"order {order_id}", "version", str(version), actual))
    return Section("processed", checked, opened, tuple(diffs), len(diffs))


def bad_record_diffs(bad: Iterable[BadRecord], in_range: Callable[[datetime], bool]) -> Section:
    """Malformed records count as mismatches, unless their key names a window out of range."""
    diffs = []
    for b in bad:
        start = _key_window(b.key)
        if start is not None and not in_range(start):
            continue
        diffs.append(Diff(start, f"{b.topic} key {b.key}", "record", "valid record", b.reason))
    return Section("malformed records", len(diffs), 0, tuple(diffs), len(diffs))


def _key_window(key: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(key.split("|", 1)[0])
    except ValueError:
        return None
    return t if t.utcoffset() is not None else None


def _show(value: Decimal | None) -> str:
    return "null" if value is None else str(value)


# --- the readable report -------------------------------------------------------------------


def format_report(report: Report, *, max_rows: int = 200) -> str:
    hi = iso(report.hi) if report.hi else "now"
    lines = [
        f"reconcile: {report.window_seconds}s windows starting from {iso(report.lo)} to {hi}"
        f" (allowed lateness {report.lateness_seconds}s, grace {report.grace_seconds:g}s)"
    ]
    for s in report.sections:
        if s.name == "malformed records":
            if s.diffs:
                lines.append(f"  {s.name:<12} {len(s.diffs)} on the aggregate topics")
            continue
        unit = "orders" if s.name == "processed" else "keys"
        pending = "pending" if s.name == "processed" else "open"
        note = f", timings not comparable for {s.timings_skipped}" if s.timings_skipped else ""
        lines.append(
            f"  {s.name:<12} {s.checked} {unit} checked, {s.mismatched} mismatched,"
            f" {s.open} {pending}{note}"
        )
    if report.open_windows:
        first, last = min(report.open_windows), max(report.open_windows)
        lines.append(f"  open windows (not judged yet): {len(report.open_windows)},"
                     f" {iso(first)} .. {iso(last)}")
    diffs = report.diffs
    if diffs:
        rows = [("window", "subject", "field", "expected", "actual")]
        rows += [
            (iso(d.window) if d.window else "-", d.subject, d.field, d.expected, d.actual)
            for d in diffs[:max_rows]
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines.append(f"MISMATCHES ({len(diffs)})")
        for r in rows:
            cells = "  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True))
            lines.append(f"  {cells}  {r[4]}")
        if len(diffs) > max_rows:
            lines.append(f"  ... and {len(diffs) - max_rows} more")
        lines.append("RESULT: MISMATCH")
    elif report.open:
        lines.append("RESULT: everything closed matches; some windows/orders still open")
    else:
        lines.append("RESULT: OK, everything matches")
    return "\n".join(lines)
