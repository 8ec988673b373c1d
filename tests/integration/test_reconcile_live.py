"""`orderstream reconcile` against the real pipeline while a load runs.

The loadgen writes continuously (besides the stack's demo load) while reconcile audits the
real topics again and again: orders change while it reads, so the database is always ahead
of the topics, and none of that may ever be reported as a mismatch. Meanwhile, in a currency
nobody has written (a fresh one per run), one window gets inserts only and the next amount
edits only; once the load stops and the windows close, the audit must match to the cent,
and the dataflow's records for those two windows must be the ones the ground truth expects.
"""

from __future__ import annotations

import os
import random
import re
import signal
import string
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from orderstream.contract import KNOWN_CURRENCIES
from orderstream.reconcile import truth, wire
from orderstream.reconcile.model import Revenue, iso, window_start
from orderstream.reconcile.topics import read_latest
from orderstream.settings import Settings
from tests.integration.conftest import unique_order_ids

pytestmark = pytest.mark.integration

Conn = Any
D = Decimal
PENDING_COUNT = re.compile(r"processed +\d+ orders checked, \d+ mismatched, (\d+) pending")


def run_reconcile(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orderstream.reconcile", *args],
        capture_output=True, text=True, timeout=timeout, env=os.environ, check=False,
    )


def unused_currency(db: Conn) -> str:
    """A code like XQZ that no order has and no loadgen writes: its windows are quiet."""
    with db.cursor() as cur:
        for _ in range(50):
            code = "X" + "".join(random.choices(string.ascii_uppercase, k=2))
            cur.execute("SELECT COUNT(*) FROM orders WHERE currency = %s", (code,))
            if code not in KNOWN_CURRENCIES and cur.fetchone()[0] == 0:
                return code
    raise AssertionError("no unused currency code")


def insert_paid(db: Conn, order_id: int, amount: str, currency: str) -> datetime:
    """Insert an order as PAID, as the application does; returns its updated_at."""
    db.begin()
    with db.cursor() as cur:
        cur.execute("SET @now = UTC_TIMESTAMP(6)")
        cur.execute(
            "INSERT INTO orders (id, customer_id, status, total_amount, currency, version,"
            " created_at, updated_at) VALUES (%s, 1, 'PAID', %s, %s, 1, @now, @now)",
            (order_id, amount, currency),
        )
        cur.execute(
            "INSERT INTO order_status_history (order_id, from_status, to_status,"
            " previous_amount, amount, changed_at) VALUES (%s, NULL, 'PAID', NULL, %s, @now)",
            (order_id, amount),
        )
        cur.execute("SELECT updated_at FROM orders WHERE id = %s", (order_id,))
        (at,) = cur.fetchone()
    db.commit()
    return at.replace(tzinfo=UTC)  # type: ignore[no-any-return]


def edit_amount(db: Conn, order_id: int, amount: str) -> datetime:
    """Change an order's amount in its status, as the application does; returns updated_at."""
    db.begin()
    with db.cursor() as cur:
        cur.execute("SET @now = UTC_TIMESTAMP(6)")
        cur.execute("SELECT status, total_amount FROM orders WHERE id = %s FOR UPDATE", (order_id,))
        status, previous = cur.fetchone()
        cur.execute(
            "UPDATE orders SET total_amount = %s, version = version + 1, updated_at = @now"
            " WHERE id = %s",
            (amount, order_id),
        )
        cur.execute(
            "INSERT INTO order_status_history (order_id, from_status, to_status,"
            " previous_amount, amount, changed_at) VALUES (%s, %s, %s, %s, %s, @now)",
            (order_id, status, status, previous, amount),
        )
        cur.execute("SELECT updated_at FROM orders WHERE id = %s", (order_id,))
        (at,) = cur.fetchone()
    db.commit()
    return at.replace(tzinfo=UTC)  # type: ignore[no-any-return]


def test_reconcile_under_continuous_load(db: Conn, settings: Settings) -> None:
    w = settings.window_seconds
    lo = window_start(datetime.now(UTC), w)
    pending_seen: list[int] = []

    def audit() -> None:
        result = run_reconcile("--from", iso(lo))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "RESULT: MISMATCH" not in result.stdout, result.stdout
        match = PENDING_COUNT.search(result.stdout)
        assert match, result.stdout
        pending_seen.append(int(match.group(1)))

    load = subprocess.Popen(
        [sys.executable, "-m", "orderstream.loadgen", "--rate", "40", "--duration", "10m"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        first, second = unique_order_ids(2)
        quiet = unused_currency(db)
        inserted = insert_paid(db, first, "42.42", quiet)
        insert_paid(db, second, "10.00", quiet)
        w_insert = window_start(inserted, w)
        # audit under load until the next window has begun, then edit the amounts there
        deadline = w_insert + timedelta(seconds=w)
        while datetime.now(UTC) < deadline:
            audit()
        edited = edit_amount(db, first, "40.00")
        edit_amount(db, second, "12.50")
        w_edit = window_start(edited, w)
        assert w_edit == w_insert + timedelta(seconds=w), "the edits missed the next window"
        for _ in range(3):
            audit()
        assert load.poll() is None, load.stderr.read() if load.stderr else ""
    finally:
        if load.poll() is None:
            load.send_signal(signal.SIGTERM)
        _, err = load.communicate(timeout=60)
    assert load.returncode == 0, err
    assert len(pending_seen) >= 4 and max(pending_seen) > 0, pending_seen  # load was ahead

    # Everything up to now closes and must match, the two quiet windows included.
    settled = run_reconcile("--from", iso(lo), "--wait", "240")
    assert settled.returncode == 0, settled.stdout + settled.stderr
    assert "RESULT: OK" in settled.stdout, settled.stdout

    with db.cursor() as cur:
        expected = truth.revenue_windows(cur, w, w_insert, w_edit + timedelta(seconds=w))
    db.commit()
    inserts_only = Revenue(D("52.42"), D("0.00"), D("0.00"), D("52.42"), 2, 0)
    edits_only = Revenue(D("0.00"), D("0.00"), D("0.08"), D("0.08"), 0, 0)
    assert expected[(w_insert, quiet)] == inserts_only
    assert expected[(w_edit, quiet)] == edits_only
    records, _ = wire.parse_revenue_topic(
        settings.topic_revenue, read_latest(settings.bootstrap_servers, settings.topic_revenue)
    )
    assert records[(w_insert, quiet)].revenue == inserts_only
    assert records[(w_edit, quiet)].revenue == edits_only
