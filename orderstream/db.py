"""Connecting to MariaDB as the application user, and telling connection loss from bugs.

:func:`connect` is the one way the project's Python code opens a database connection.
"""

from __future__ import annotations

from typing import TypeAlias

import pymysql
import pymysql.connections
import pymysql.cursors

from orderstream.knobs import Database

# MySQL client error codes that mean "the connection is gone", not "the statement is wrong"
_CONNECTION_ERRORS = {
    1053,  # server shutdown in progress
    1927,  # connection was killed (MariaDB)
    2003,  # can't connect
    2006,  # server has gone away
    2013,  # lost connection during query
    2014,  # commands out of sync (a half-read result after a failure)
    2055,  # lost connection (system error)
}

DUPLICATE_KEY = 1062


Connection: TypeAlias = "pymysql.connections.Connection[pymysql.cursors.Cursor]"


def connect(
    database: Database,
    *,
    timeout: float = 5.0,
    use_database: bool = True,
    autocommit: bool = False,
) -> Connection:
    """A new connection as the app user (to ``shop`` unless ``use_database=False``), session
    in UTC. Raises :class:`pymysql.MySQLError` when the server cannot be reached or refuses
    the login."""
    return pymysql.connect(
        host=database.host,
        port=database.port,
        user=database.user,
        password=database.password,
        database=database.name if use_database else None,
        autocommit=autocommit,
        connect_timeout=max(1, int(timeout)),
        read_timeout=30,
        write_timeout=30,
        init_command="SET time_zone = '+00:00'",
        charset="utf8mb4",
    )


def is_connection_error(exc: BaseException) -> bool:
    """True when ``exc`` means the connection broke (retry on a new one), not a SQL error."""
    if isinstance(exc, pymysql.err.InterfaceError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, pymysql.err.OperationalError):
        code = exc.args[0] if exc.args else None
        return code in _CONNECTION_ERRORS
    return False


def error_code(exc: BaseException) -> int | None:
    code = exc.args[0] if isinstance(exc, pymysql.err.MySQLError) and exc.args else None
    return code if isinstance(code, int) else None


def describe(exc: BaseException) -> str:
    """A one-line description of a database error, e.g. ``(2003) Can't connect ...``."""
    if isinstance(exc, pymysql.err.MySQLError) and len(exc.args) >= 2:
        return f"({exc.args[0]}) {exc.args[1]}".replace("\n", " ")
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")
