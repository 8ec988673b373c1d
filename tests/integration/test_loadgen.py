"""`orderstream loadgen` against the live MariaDB: what it writes is exactly its plan.

Each run uses its own seed and an order-id range of its own (``--first-id`` from 7*10^12 up,
checked to be empty), so the pure planner tells the test exactly which rows must exist.
Tolerance: none on content. A run that keeps up writes every planned change; one stopped
early (SIGTERM) writes a prefix of the plan, whole transactions only.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from orderstream.contract import is_legal_transition
from orderstream.loadgen.planner import PlanConfig, PlannedChange, plan
from tests.integration.conftest import poll_until

pytestmark = pytest.mark.integration

Conn = Any  # pymysql connection




def free_first_id(db: Conn, span: int = 1_000_000) -> int:
    """An empty id range of ``span`` ids between 7*10^12 and 8*10^12."""
    with db.cursor() as cur:
        for _ in range(20):
            base = 7_000_000_000_000 + random.randrange(1_000_000) * span
            cur.execute(
                "SELECT COUNT(*) FROM orders WHERE id >= %s AND id < %s", (base, base + span)
            )
            if cur.fetchone()[0] == 0:
                return base
    raise AssertionError("no free id range found")


def loadgen_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "orderstream.loadgen", *args]


def run_loadgen(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        loadgen_cmd(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@dataclass
class DbOrder:
    status: str
    amount: Decimal
    currency: str
    version: int
    created_at: datetime
    updated_at: datetime
    items_total: Decimal
    history: list[tuple[str | None, str, Decimal | None, Decimal, datetime]]


def db_orders(db: Conn, lo: int, hi: int) -> dict[int, DbOrder]:
    with db.cursor() as cur:
        cur.execute(
            "SELECT o.id, o.status, o.total_amount, o.currency, o.version, o.created_at,"
            " o.updated_at, (SELECT SUM(quantity * unit_price) FROM order_items i"
            " WHERE i.order_id = o.id) FROM orders o WHERE o.id >= %s AND o.id < %s",
            (lo, hi),
        )
        orders = {
            oid: DbOrder(status, amount, currency, version, created, updated, items, [])
            for oid, status, amount, currency, version, created, updated, items in cur.fetchall()
        }
        cur.execute(
            "SELECT order_id, from_status, to_status, previous_amount, amount, changed_at"
            " FROM order_status_history WHERE order_id >= %s AND order_id < %s"
            " ORDER BY order_id, changed_at, id",
            (lo, hi),
        )
        for order_id, *row in cur.fetchall():
            orders[order_id].history.append(tuple(row))
    return orders


def history_count(db: Conn, lo: int, hi: int) -> int:
    with db.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*) FROM order_status_history WHERE order_id >= %s AND order_id < %s",
            (lo, hi),
        )
        return int(cur.fetchone()[0])


def assert_db_is_plan(
    orders: dict[int, DbOrder], changes: list[PlannedChange], first_id: int
) -> None:
    """The database holds exactly ``changes`` (order number n has id first_id + n)."""
    planned: dict[int, list[PlannedChange]] = defaultdict(list)
    for c in changes:
        planned[first_id + c.order].append(c)
    assert set(orders) == set(planned)
    for order_id, history in planned.items():
        o = orders[order_id]
        first, last = history[0], history[-1]
        # version = 1 + number of updates = number of history rows
        assert o.version == last.version == len(history) == len(o.history), order_id
        assert (o.status, o.amount, o.currency) == (last.to_status, last.amount, first.currency)
        assert o.items_total == first.amount
        # history rows match the changes one to one, in order
        assert [(h[0], h[1], h[2], h[3]) for h in o.history] == [
            (c.from_status, c.to_status, c.previous_amount, c.amount) for c in history
        ]
        times = [h[4] for h in o.history]
        assert times == sorted(set(times)), f"changed_at not strictly increasing for {order_id}"
        assert o.created_at == times[0] and o.updated_at == times[-1]
        for h in o.history:
            assert (h[0] is None) == (h[2] is None)  # previous_amount NULL only for the insert


SUMMARY = re.compile(r"wrote (\d+) order changes .* order ids (\S+)")


def test_fixed_rate_run_writes_its_plan(db: Conn) -> None:
    first_id, seed = free_first_id(db), random.randrange(2**31)
    result = run_loadgen(
        "--rate",
        "40",
        "--duration",
        "4",
        "--seed",
        str(seed),
        "--first-id",
        str(first_id),
        "--customers",
        "50",
        "--illegal-rate",
        "0.1",
        "--currencies",
        "KRW,USD,EUR",
    )
    assert result.returncode == 0, result.stderr
    changes = list(
        plan(
            PlanConfig(
                rate=40,
                duration=4,
                seed=seed,
                customers=50,
                currencies=("KRW", "USD", "EUR"),
                illegal_rate=0.1,
            )
        )
    )
    assert len(changes) == 160
    match = SUMMARY.search(result.stdout)
    assert match and int(match.group(1)) == 160, result.stdout
    assert re.search(r"= 4\d\.\d changes/s|= 3\d\.\d changes/s", result.stdout), result.stdout
    orders = db_orders(db, first_id, first_id + 1_000_000)
    assert_db_is_plan(orders, changes, first_id)
    # illegal transitions are written like any other change (recorded as they happened)
    illegal = [h for o in orders.values() for h in o.history if not is_legal_transition(h[0], h[1])]  # type: ignore[arg-type]
    assert len(illegal) == sum(c.illegal for c in changes) > 0
    # paced, not as fast as possible: changes spread over the 4 s schedule
    stamps = [h[4] for o in orders.values() for h in o.history]
    span = (max(stamps) - min(stamps)).total_seconds()
    assert 3.0 <= span <= 5.5, span


def test_sigterm_stops_cleanly_between_transactions(db: Conn) -> None:
    first_id, seed = free_first_id(db), random.randrange(2**31)
    proc = subprocess.Popen(
        loadgen_cmd(
            "--rate", "200", "--seed", str(seed), "--first-id", str(first_id), "--customers", "50"
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        poll_until(
            "the loadgen to write 100 changes",
            lambda: history_count(db, first_id, first_id + 1_000_000) >= 100,
            30,
        )
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "(stopped)" in out and "Traceback" not in err
    written = history_count(db, first_id, first_id + 1_000_000)
    match = SUMMARY.search(out)
    assert match and int(match.group(1)) == written
    changes = list(
        islice(plan(PlanConfig(rate=200, duration=None, seed=seed, customers=50)), written)
    )
    assert_db_is_plan(db_orders(db, first_id, first_id + 1_000_000), changes, first_id)


def _local_tcp_ports(pid: int) -> set[int]:
    """Local ports of the TCP sockets process ``pid`` holds (Linux /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _connection_ids_of(db: Conn, pid: int) -> list[int]:
    ports = _local_tcp_ports(pid)
    with db.cursor() as cur:
        cur.execute(
            "SELECT ID, HOST FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()"
        )
        rows = cur.fetchall()
    return [
        cid
        for cid, host in rows
        if host and host.rsplit(":", 1)[-1].isdigit() and int(host.rsplit(":", 1)[-1]) in ports
    ]


def test_lost_connection_is_retried_and_reported(db: Conn) -> None:
    first_id, seed = free_first_id(db), random.randrange(2**31)
    proc = subprocess.Popen(
        loadgen_cmd(
            "--rate",
            "50",
            "--duration",
            "6",
            "--seed",
            str(seed),
            "--first-id",
            str(first_id),
            "--customers",
            "50",
            "--retry-seconds",
            "30",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        poll_until(
            "the loadgen to write 20 changes",
            lambda: history_count(db, first_id, first_id + 1_000_000) >= 20,
            30,
        )
        ids = _connection_ids_of(db, proc.pid)
        assert ids, "the loadgen's database connection was not found"
        with db.cursor() as cur:
            for cid in ids:
                cur.execute(f"KILL CONNECTION {int(cid)}")
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "database connection lost" in err and "Traceback" not in err
    assert re.search(r"connection errors [1-9]", out), out
    changes = list(plan(PlanConfig(rate=50, duration=6, seed=seed, customers=50)))
    assert_db_is_plan(db_orders(db, first_id, first_id + 1_000_000), changes, first_id)


def test_runs_without_first_id_get_fresh_ids_below_the_test_range() -> None:
    ranges = []
    for _ in range(2):
        result = run_loadgen("--rate", "20", "--duration", "1", "--customers", "20")
        assert result.returncode == 0, result.stderr
        match = SUMMARY.search(result.stdout)
        assert match, result.stdout
        first, last = (int(x) for x in match.group(2).split(",")[0].split(".."))
        ranges.append((first, last))
    (a0, a1), (b0, b1) = ranges
    assert a1 < b0 and b1 < 1_000_000_000_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--rate", "-5"], "--rate"),
        (["--rate", "10", "--currencies", "USD,XYZ"], "XYZ"),
        (["--rate", "10", "--illegal-rate", "1.5"], "--illegal-rate"),
        (["--rate", "10", "--duration", "soon"], "--duration"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], named: str) -> None:
    result = run_loadgen(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and named in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_exits_3_naming_it() -> None:
    env = {**os.environ, "ORDERSTREAM_DB_PORT": str(_free_port())}
    result = run_loadgen("--rate", "10", "--duration", "1", env=env)
    assert result.returncode == 3
    err = result.stderr.strip()
    assert "\n" not in err and "database" in err and "Traceback" not in err, err
