"""The security baseline of the running stack.

- Every listening socket of the stack's processes (supervisord and everything under it) is
  on the configured host (ORDERSTREAM_HOST, loopback by default), never on a wildcard.
- The application user cannot CREATE, DROP or GRANT; the CDC user cannot write.
- Files under the runtime directory that hold a password are readable by their owner only.
- The Connect REST API never returns a password, on either worker.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
import requests

from orderstream.settings import Settings
from orderstream.stack.layout import Layout
from orderstream.stack.supervisor import Supervisor

pytestmark = pytest.mark.integration

CONNECTOR = "orders-cdc"
# MariaDB's "access denied" errors: to a database, to a table or command, to a privilege.
ACCESS_DENIED = {1044, 1045, 1142, 1143, 1227}
TCP_LISTEN = "0A"


# --- listening sockets ---------------------------------------------------------------------------


def _parent(pid: int) -> int:
    stat_line = Path(f"/proc/{pid}/stat").read_text()
    return int(stat_line.rsplit(")", 1)[1].split()[1])  # the field after "(comm) state"


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = _parent(int(entry.name))
        except OSError:
            continue  # exited meanwhile
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def stack_pids(supervisor: Supervisor) -> dict[int, str]:
    """pid -> program name of supervisord and every process under it."""
    names = {p.pid: name for name, p in supervisor.programs().items() if p.pid > 0}
    assert names, "supervisord runs no program"
    (root,) = {_parent(pid) for pid in names}  # supervisord itself
    children = _children()
    found: dict[int, str] = {}
    todo = [(root, "supervisord")]
    while todo:
        pid, name = todo.pop()
        name = names.get(pid, name)
        found[pid] = name
        todo += [(child, name) for child in children.get(pid, [])]
    return found


def _socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    # /proc prints IPv6 as four host-order 32-bit words
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    v6 = ipaddress.IPv6Address(words)
    return str(v6.ipv4_mapped or v6)


def listening_sockets() -> Iterator[tuple[int, str, int]]:
    """(inode, address, port) of every TCP socket in LISTEN and every bound UDP socket."""
    for table in ("tcp", "tcp6", "udp", "udp6"):
        lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if table.startswith("tcp") and state != TCP_LISTEN:
                continue
            address, port = local.rsplit(":", 1)
            if table.startswith("udp") and int(port, 16) == 0:
                continue
            yield inode, _address(address), int(port, 16)


def test_every_listening_socket_is_on_the_configured_host(
    settings: Settings, supervisor: Supervisor
) -> None:
    host = socket.gethostbyname(settings.host)
    pids = stack_pids(supervisor)
    owner = {inode: pid for pid in pids for inode in _socket_inodes(pid)}
    listening = [(owner[i], a, p) for i, a, p in listening_sockets() if i in owner]
    programs = {pids[pid] for pid, _, _ in listening}
    # the test sees the stack: the database, every Kafka node, both Connect workers
    assert {"mariadb", "kafka-1", "connect-1", "connect-2"} <= programs, programs
    wrong = sorted(
        f"{pids[pid]} (pid {pid}) listens on {address}:{port}"
        for pid, address, port in listening
        if address != host
    )
    assert not wrong, f"expected every listener on {host}:\n" + "\n".join(wrong)


# --- database users ----------------------------------------------------------------------------


def connect_as(settings: Settings, user: str, password: str) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(
        host=settings.host, port=settings.db_port, user=user, password=password,
        database=settings.db_name, autocommit=True, connect_timeout=10,
    )


def denied(conn: pymysql.connections.Connection[Any], sql: str) -> int:
    """Run ``sql``; return MariaDB's error code, failing the test if it succeeded."""
    with conn.cursor() as cur:
        try:
            cur.execute(sql)
        except pymysql.err.MySQLError as exc:
            return int(exc.args[0])
    raise AssertionError(f"{sql!r} succeeded")


@pytest.fixture
def app_db(settings: Settings) -> Iterator[pymysql.connections.Connection[Any]]:
    conn = connect_as(settings, settings.db_app_user, settings.db_app_password)
    yield conn
    conn.close()


@pytest.fixture
def cdc_db(settings: Settings) -> Iterator[pymysql.connections.Connection[Any]]:
    conn = connect_as(settings, settings.db_cdc_user, settings.db_cdc_password)
    yield conn
    conn.close()


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE security_probe (id INT)",
        "CREATE DATABASE security_probe",
        "DROP TABLE security_probe_absent",  # denied before the table is looked up
        "DROP DATABASE security_probe_absent",
        "ALTER TABLE orders ADD COLUMN security_probe INT",
        "CREATE USER security_probe IDENTIFIED BY 'x'",
        "GRANT SELECT ON shop.orders TO CURRENT_USER",
        "GRANT ALL PRIVILEGES ON *.* TO CURRENT_USER",
    ],
)
def test_application_user_cannot_create_drop_or_grant(
    app_db: pymysql.connections.Connection[Any], sql: str
) -> None:
    assert denied(app_db, sql) in ACCESS_DENIED


def test_application_user_can_still_do_its_job(
    app_db: pymysql.connections.Connection[Any],
) -> None:
    with app_db.cursor() as cur:  # DML on shop: harmless forms of each statement
        cur.execute("SELECT COUNT(*) FROM orders WHERE id = -1")
        cur.execute("UPDATE orders SET version = version WHERE id = -1")
        cur.execute("DELETE FROM order_status_history WHERE id = -1")


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO order_status_history (order_id, to_status, amount, changed_at)"
        " SELECT 1, 'PAID', 0, UTC_TIMESTAMP(6) FROM DUAL WHERE FALSE",
        "UPDATE orders SET version = version WHERE id = -1",
        "DELETE FROM orders WHERE id = -1",
        "CREATE TABLE security_probe (id INT)",
        "DROP TABLE security_probe_absent",
        "GRANT SELECT ON shop.orders TO CURRENT_USER",
    ],
)
def test_cdc_user_cannot_write(cdc_db: pymysql.connections.Connection[Any], sql: str) -> None:
    assert denied(cdc_db, sql) in ACCESS_DENIED


def test_cdc_user_can_read_what_debezium_needs(
    cdc_db: pymysql.connections.Connection[Any],
) -> None:
    with cdc_db.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM orders WHERE id = -1")
        cur.execute("SHOW BINARY LOGS")
        assert cur.fetchall(), "the CDC user sees no binlog"


# --- files holding secrets ------------------------------------------------------------------------


def secret_files(root: Path, secrets: list[bytes]) -> Iterator[Path]:
    """Regular files under ``root`` that contain any of ``secrets`` (the jars are skipped)."""
    longest = max(len(s) for s in secrets)
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            dirnames[:] = [d for d in dirnames if d != "jars"]
        for name in filenames:
            path = Path(dirpath) / name
            if not path.is_file() or path.is_symlink():
                continue
            try:
                with path.open("rb") as f:
                    tail = b""
                    while chunk := f.read(1 << 20):
                        window = tail + chunk
                        if any(s in window for s in secrets):
                            yield path
                            break
                        tail = window[-longest:]
            except OSError:
                continue  # a file that came and went (rotated logs, temporary files)


def _exposed(paths: list[Path]) -> list[str]:
    return [
        f"{p} is {stat.filemode(p.stat().st_mode)}"
        for p in paths
        if p.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    ]


def _mariadb_file(settings: Settings, path: Path) -> bool:
    return Layout(settings.runtime_dir).mariadb_dir in path.parents


def test_files_holding_secrets_are_readable_by_their_owner_only(settings: Settings) -> None:
    secrets = [settings.db_app_password.encode(), settings.db_cdc_password.encode()]
    found = list(secret_files(settings.runtime_dir, secrets))
    # supervisord's config passes the CDC password to the Connect workers: it must be found
    assert Layout(settings.runtime_dir).supervisor_config in found, found
    # MariaDB's own files (data, binlog): the next test
    exposed = _exposed([p for p in found if not _mariadb_file(settings, p)])
    assert not exposed, "files holding a password are readable by others:\n" + "\n".join(exposed)


@pytest.mark.xfail(
    strict=True,
    reason="known: the users are created with binary logging on, so the binlog holds"
    " `CREATE USER ... IDENTIFIED BY '<password>'` in plain text, and mariadbd writes it 0660"
    " (the CDC user can also stream it). Fix in the stack: no binlog while creating users"
    " (SET sql_log_bin = 0) and an owner-only umask for mariadbd.",
)
def test_mariadb_files_hold_no_readable_password(settings: Settings) -> None:
    secrets = [settings.db_app_password.encode(), settings.db_cdc_password.encode()]
    found = list(secret_files(Layout(settings.runtime_dir).mariadb_dir, secrets))
    exposed = _exposed(found)
    assert not exposed, "MariaDB files holding a password are readable by others:\n" + "\n".join(
        exposed
    )


# --- Connect REST API -----------------------------------------------------------------------------


CONNECT_PATHS = [
    "/",
    "/connectors",
    "/connectors?expand=info&expand=status",
    f"/connectors/{CONNECTOR}",
    f"/connectors/{CONNECTOR}/config",
    f"/connectors/{CONNECTOR}/status",
    f"/connectors/{CONNECTOR}/tasks",
    f"/connectors/{CONNECTOR}/tasks/0/status",
    f"/connectors/{CONNECTOR}/topics",
    f"/connectors/{CONNECTOR}/offsets",
    "/connector-plugins",
    "/admin/loggers",
]


def test_connect_rest_api_never_returns_a_password(settings: Settings) -> None:
    secrets = [settings.db_app_password, settings.db_cdc_password]
    answered = 0
    leaks = []
    for base in settings.connect_urls:
        for path in CONNECT_PATHS:
            response = requests.get(base + path, timeout=10)
            answered += response.status_code == 200
            if any(s in response.text for s in secrets):
                leaks.append(f"GET {base}{path}")
    # the connector's own config is among what was read, with the password as a placeholder
    config = requests.get(f"{settings.connect_url}/connectors/{CONNECTOR}/config", timeout=10)
    assert config.status_code == 200, config.text
    assert config.json()["database.password"].startswith("${"), "password is not a placeholder"
    assert answered >= len(CONNECT_PATHS), answered
    assert not leaks, "the Connect REST API returned a password:\n" + "\n".join(leaks)
