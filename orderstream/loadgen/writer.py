"""The SQL side of the loadgen: applies batches of planned changes, one transaction each.

Every change is one row change in ``orders`` (insert with version 1, or an UPDATE that bumps
``version`` by exactly 1, guarded by the version it expects) plus its ``order_status_history``
row, with ``changed_at`` = the order's new ``updated_at``, in the same transaction. A batch is
all-or-nothing, so an interrupted run never leaves half an order behind.

A lost connection is retried with tenacity on a fresh connection. Before re-applying a batch
the writer checks whether the lost attempt had in fact committed (its last change's version
is already in the table), so a commit whose acknowledgement got lost is not applied twice.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pymysql
import pymysql.cursors
from pymysql.connections import Connection
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    stop_when_event_set,
    wait_exponential,
)

from orderstream.db import DUPLICATE_KEY, describe, error_code, is_connection_error
from orderstream.loadgen import catalog
from orderstream.loadgen.planner import ChangeKind, PlannedChange

if TYPE_CHECKING:
    Conn = Connection[pymysql.cursors.Cursor]
ID_BLOCK = 1_000_000  # a run without --first-id starts at the next multiple above max(id)
#: Loadgen ids stay below this; ids from here up are left to tests and hand-written data.
ID_CEILING = 1_000_000_000_000
ONE_US = timedelta(microseconds=1)
_CHUNK = 1000


class WriterError(RuntimeError):
    """The database refused a batch for a reason retrying cannot fix."""


def utc_now() -> datetime:
    """Naive UTC wall-clock time: what ``DATETIME(6)`` columns hold."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class _Prepared:
    change: PlannedChange
    order_id: int
    at: datetime  # the order's new updated_at = the history row's changed_at


@dataclass
class WriterStats:
    batches: int = 0
    changes: int = 0
    orders: int = 0  # inserts
    retries: int = 0  # connection losses survived
    rebases: int = 0  # id ranges abandoned after a collision with another writer
    id_ranges: list[tuple[int, int]] = field(default_factory=list)  # [first, last] per range


class OrderWriter:
    """Applies :class:`PlannedChange` batches; see the module docstring for the guarantees."""

    def __init__(
        self,
        connect: Callable[[], Conn],
        *,
        first_id: int | None = None,
        retry_seconds: float = 60.0,
        stop: threading.Event | None = None,
        on_retry: Callable[[str], None] = lambda _msg: None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._connect = connect
        self._first_id = first_id
        self._retry_seconds = retry_seconds
        self._stop = stop or threading.Event()
        self._on_retry = on_retry
        self._clock = clock
        self._conn: Conn | None = None
        self._next_id = 0
        self._customer_ids: dict[int, int] = {}
        self._product_ids: dict[int, int] = {}
        self._orders: dict[int, tuple[int, datetime]] = {}  # plan number -> (id, updated_at)
        self.stats = WriterStats()

    # --- setup --------------------------------------------------------------------------

    def open(self, customers: int, products: int = catalog.PRODUCT_COUNT) -> None:
        """Connect (once, no retry: a wrong address should fail fast), make sure the catalog
        rows exist (idempotent) and choose where order ids start."""
        self._conn = self._connect()
        with self._conn.cursor() as cur:
            self._product_ids = self._ensure_products(cur, products)
            self._customer_ids = self._ensure_customers(cur, customers)
            self._next_id = self._first_id if self._first_id is not None else self._free_block(cur)
        self._conn.commit()

    def _ensure_products(self, cur: pymysql.cursors.Cursor, count: int) -> dict[int, int]:
        rows = [(p.sku, p.name, p.category, p.price) for p in map(catalog.product, range(count))]
        for i in range(0, len(rows), _CHUNK):
            cur.executemany(
                "INSERT INTO products (sku, name, category, price) VALUES (%s, %s, %s, %s)"
                " ON DUPLICATE KEY UPDATE sku = sku",
                rows[i : i + _CHUNK],
            )
        cur.execute("SELECT id, sku FROM products WHERE sku LIKE 'LG-%'")
        by_sku = {sku: pid for pid, sku in cur.fetchall()}
        return {i: by_sku[catalog.product(i).sku] for i in range(count)}

    def _ensure_customers(self, cur: pymysql.cursors.Cursor, count: int) -> dict[int, int]:
        now = self._clock()
        ids: dict[int, int] = {}
        for start in range(0, count, _CHUNK):
            chunk = [catalog.customer(i) for i in range(start, min(count, start + _CHUNK))]
            cur.executemany(
                "INSERT INTO customers (email, name, created_at) VALUES (%s, %s, %s)"
                " ON DUPLICATE KEY UPDATE email = email",
                [(c.email, c.name, now) for c in chunk],
            )
            cur.execute(
                "SELECT id, email FROM customers WHERE email IN %s", ([c.email for c in chunk],)
            )
            by_email = {email: cid for cid, email in cur.fetchall()}
            ids.update({c.index: by_email[c.email] for c in chunk})
        return ids

    @staticmethod
    def _free_block(cur: pymysql.cursors.Cursor) -> int:
        """The next multiple of ID_BLOCK above the highest loadgen-range id (< ID_CEILING)."""
        cur.execute("SELECT COALESCE(MAX(id), 0) FROM orders WHERE id < %s", (ID_CEILING,))
        row = cur.fetchone()
        base = ((int(row[0]) if row else 0) // ID_BLOCK + 1) * ID_BLOCK
        if base + ID_BLOCK > ID_CEILING:  # the loadgen range is used up: go above everything
            cur.execute("SELECT COALESCE(MAX(id), 0) FROM orders")
            row = cur.fetchone()
            base = ((int(row[0]) if row else 0) // ID_BLOCK + 1) * ID_BLOCK
        return base

    def close(self) -> None:
        self._discard_connection()

    # --- writing ------------------------------------------------------------------------

    def write(self, batch: Sequence[PlannedChange]) -> None:
        """Apply ``batch`` in one transaction, retrying lost connections.

        Raises the last connection error when the retry budget runs out (or the stop event
        is set while waiting), :class:`WriterError` for anything retrying cannot fix.
        """
        if not batch:
            return
        for _ in range(5):
            prepared = self._prepare(batch)
            try:
                self._write_retrying(prepared)
            except pymysql.err.IntegrityError as exc:
                if error_code(exc) != DUPLICATE_KEY:
                    raise WriterError(describe(exc)) from exc
                # another writer took these ids: move above everything and try again
                self._rebase()
                continue
            self._commit_state(prepared)
            return
        raise WriterError("order ids kept colliding with another writer (5 attempts)")

    def _prepare(self, batch: Sequence[PlannedChange]) -> list[_Prepared]:
        now = self._clock()
        known = dict(self._orders)
        next_id = self._next_id
        out: list[_Prepared] = []
        for change in batch:
            if change.kind is ChangeKind.INSERT:
                order_id, at = next_id, now
                next_id += 1
            else:
                if change.order not in known:
                    raise WriterError(f"order #{change.order} updated before it was inserted")
                order_id, last = known[change.order]
                at = max(now, last + ONE_US)  # updated_at strictly increases per order
            known[change.order] = (order_id, at)
            out.append(_Prepared(change, order_id, at))
        return out

    def _commit_state(self, prepared: list[_Prepared]) -> None:
        for p in prepared:
            if p.change.kind is ChangeKind.INSERT:
                self._note_id(p.order_id)
                self._next_id = p.order_id + 1
                self.stats.orders += 1
            if p.change.final:
                self._orders.pop(p.change.order, None)
            else:
                self._orders[p.change.order] = (p.order_id, p.at)
        self.stats.batches += 1
        self.stats.changes += len(prepared)

    def _note_id(self, order_id: int) -> None:
        ranges = self.stats.id_ranges
        if ranges and ranges[-1][1] + 1 == order_id:
            ranges[-1] = (ranges[-1][0], order_id)
        else:
            ranges.append((order_id, order_id))

    def _rebase(self) -> None:
        def find(cur: pymysql.cursors.Cursor) -> int:
            return self._free_block(cur)

        new_base = self._retrying(lambda: self._with_cursor(find))
        self.stats.rebases += 1
        self._on_retry(f"order id {self._next_id} already taken; continuing at {new_base}")
        self._next_id = new_base

    def _write_retrying(self, prepared: list[_Prepared]) -> None:
        attempts = 0

        def attempt() -> None:
            nonlocal attempts
            attempts += 1
            self._apply(prepared, check_applied=attempts > 1)

        self._retrying(attempt)

    def _retrying(self, fn: Callable[[], Any]) -> Any:
        retrying = Retrying(
            retry=retry_if_exception(is_connection_error),
            stop=stop_after_delay(self._retry_seconds) | stop_when_event_set(self._stop),
            wait=wait_exponential(multiplier=0.2, max=5.0),
            sleep=self._sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        return retrying(fn)

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _before_sleep(self, state: RetryCallState) -> None:
        self._discard_connection()
        self.stats.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        self._on_retry(
            f"database connection lost: {describe(exc) if exc else '?'}; "
            f"retry {state.attempt_number} in {wait:.1f}s"
        )

    def _discard_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(pymysql.err.Error, OSError):
                conn.close()

    def _with_cursor(self, fn: Callable[[pymysql.cursors.Cursor], Any]) -> Any:
        if self._conn is None:
            self._conn = self._connect()
        with self._conn.cursor() as cur:
            result = fn(cur)
        self._conn.commit()
        return result

    def _apply(self, prepared: list[_Prepared], *, check_applied: bool) -> None:
        if self._conn is None:
            self._conn = self._connect()
        conn = self._conn
        try:
            with conn.cursor() as cur:
                if check_applied and self._already_applied(cur, prepared[-1]):
                    conn.rollback()
                    return
                self._execute(cur, prepared)
            conn.commit()
        except BaseException as exc:
            if not is_connection_error(exc):  # a dead connection cannot roll back (nor commit)
                with contextlib.suppress(pymysql.err.Error, OSError):
                    conn.rollback()
            raise

    @staticmethod
    def _already_applied(cur: pymysql.cursors.Cursor, last: _Prepared) -> bool:
        cur.execute("SELECT version FROM orders WHERE id = %s", (last.order_id,))
        row = cur.fetchone()
        return row is not None and int(row[0]) >= last.change.version

    def _execute(self, cur: pymysql.cursors.Cursor, prepared: list[_Prepared]) -> None:
        new_orders: list[tuple[object, ...]] = []
        new_ids: set[int] = set()
        items: list[tuple[object, ...]] = []
        history: list[tuple[object, ...]] = []

        def flush_orders() -> None:
            if new_orders:
                cur.executemany(
                    "INSERT INTO orders (id, customer_id, status, total_amount, currency,"
                    " version, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, 1, %s, %s)",
                    new_orders,
                )
                new_orders.clear()
                new_ids.clear()

        for p in prepared:
            c = p.change
            if c.kind is ChangeKind.INSERT:
                assert c.customer is not None and c.currency is not None
                new_orders.append(
                    (p.order_id, self._customer_ids[c.customer], c.to_status.value, c.amount,
                     c.currency, p.at, p.at)
                )
                new_ids.add(p.order_id)
                items.extend(
                    (p.order_id, self._product_ids[i.product], i.quantity, i.unit_price)
                    for i in c.items
                )
            else:
                if p.order_id in new_ids:
                    flush_orders()  # the order's insert must precede its update
                updated = cur.execute(
                    "UPDATE orders SET status = %s, total_amount = %s, version = version + 1,"
                    " updated_at = %s WHERE id = %s AND version = %s",
                    (c.to_status.value, c.amount, p.at, p.order_id, c.version - 1),
                )
                if updated != 1:
                    raise WriterError(
                        f"order {p.order_id} is not at version {c.version - 1}:"
                        " something else changed it"
                    )
            history.append(
                (p.order_id, c.from_status.value if c.from_status else None, c.to_status.value,
                 c.previous_amount, c.amount, p.at)
            )
        flush_orders()
        if items:
            cur.executemany(
                "INSERT INTO order_items (order_id, product_id, quantity, unit_price)"
                " VALUES (%s, %s, %s, %s)",
                items,
            )
        cur.executemany(
            "INSERT INTO order_status_history (order_id, from_status, to_status,"
            " previous_amount, amount, changed_at) VALUES (%s, %s, %s, %s, %s, %s)",
            history,
        )
