"""MariaDB 10.11 (Debian package): database ``shop`` with the binlog Debezium reads."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pymysql

from orderstream import db
from orderstream.poll import NotReady, wait_for
from orderstream.settings import Settings
from orderstream.stack import render
from orderstream.stack.components.base import Check, Component, File, Port, Program, StackError

#: mysql-init/*users.sql is a template of the users' names and passwords.
USERS_SQL_SUFFIX = "users.sql"


def users_sql(template: str, settings: Settings) -> str:
    """mysql-init/02-users.sql with its ``%(name)s`` placeholders filled as string literals."""
    s = settings
    return render.fill_sql(
        template,
        {
            "cdc_user": s.db_cdc_user,
            "cdc_password": s.db_cdc_password,
            "app_user": s.db_app_user,
            "app_password": s.db_app_password,
        },
    )


class MariaDB(Component):
    name = "mariadb"

    @property
    def data_dir(self) -> Path:
        return self.layout.mariadb_data

    def cnf(self) -> str:
        """my.cnf for the project's own MariaDB: binlog ROW/FULL, a server id, UTC, loopback."""
        lay, s = self.layout, self.settings
        server: dict[str, render.Value | None] = {
            "datadir": lay.mariadb_data,
            "socket": lay.mariadb_socket,
            "pid-file": lay.mariadb_dir / "mariadbd.pid",
            "port": s.db_port,
            "bind-address": s.host,
            "skip-name-resolve": None,
            "log-bin": lay.mariadb_dir / "binlog" / "mariadb-bin",
            "binlog_format": "ROW",
            "binlog_row_image": "FULL",
            "server_id": 1,
            "binlog_expire_logs_seconds": 604800,
            "default_time_zone": "+00:00",
            "character_set_server": "utf8mb4",
            "collation_server": "utf8mb4_bin",
            "innodb_buffer_pool_size": "256M",
            "innodb_flush_log_at_trx_commit": 1,
            "sync_binlog": 1,
            "max_connections": 200,
        }
        return render.ini({"mariadbd": server, "client": {"socket": lay.mariadb_socket}})

    def files(self) -> list[File]:
        return [File(self.layout.mariadb_config, self.cnf())]

    def programs(self) -> list[Program]:
        command = [
            "mariadbd",
            f"--defaults-file={self.layout.mariadb_config}",
            f"--user={self.ctx.run_as}",
        ]
        return [Program(self.name, command, stopwaitsecs=60)]

    def ports(self) -> list[Port]:
        return [Port(self.settings.db_port, "ORDERSTREAM_DB_PORT", self.name)]

    def check_installed(self) -> None:
        self.ctx.tool("mariadbd")

    def prepare(self) -> None:
        lay = self.layout
        if (lay.mariadb_data / "mysql").exists():
            return
        self.ctx.say("initialising MariaDB data directory")
        lay.mariadb_data.mkdir(parents=True, exist_ok=True)
        (lay.mariadb_dir / "binlog").mkdir(parents=True, exist_ok=True)
        self._run(
            "mariadb-install-db",
            f"--defaults-file={lay.mariadb_config}",
            f"--user={self.ctx.run_as}",
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
        )

    def wait_ready(self) -> None:
        wait_for("MariaDB to accept connections", self._ping, timeout=60)

    def after_start(self) -> None:
        if not self.layout.mariadb_initialized_marker.exists():
            self.apply_mysql_init()
            self.layout.mariadb_initialized_marker.write_text("mysql-init applied\n")

    def apply_mysql_init(self) -> None:
        """Apply mysql-init/*.sql as the socket-authenticated administrator (setup only)."""
        for path in sorted(self.layout.mysql_init.glob("*.sql")):
            sql = path.read_text()
            if path.name.endswith(USERS_SQL_SUFFIX):
                sql = users_sql(sql, self.settings)
            socket = f"--socket={self.layout.mariadb_socket}"
            self._run("mariadb", socket, "--user=root", stdin=sql, what=f"applying {path.name}")
            self.ctx.say(f"applied mysql-init/{path.name}")

    def _ping(self) -> None:
        result = subprocess.run(
            [self.ctx.tool("mariadb-admin"), f"--socket={self.layout.mariadb_socket}", "ping"],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise NotReady(result.stderr.strip() or result.stdout.strip())

    def _run(self, tool: str, *args: str, stdin: str | None = None, what: str = "") -> None:
        result = subprocess.run(
            [self.ctx.tool(tool), *args], input=stdin, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise StackError(f"{what or tool} failed: {result.stderr.strip()[-500:]}")

    def checks(self) -> list[Check]:
        s = self.settings
        try:
            conn = db.connect(s.database, timeout=3, use_database=False)
        except pymysql.MySQLError as exc:
            reason = f"{s.host}:{s.db_port} does not answer: {exc.args[-1]}"
            return [Check(self.name, False, reason)]
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@server_id")
                row = cur.fetchone()
        finally:
            conn.close()
        if row is None:
            return [Check(self.name, False, "the binlog settings query returned no row")]
        log_bin, fmt, image, server_id = int(row[0]), str(row[1]), str(row[2]), int(row[3])
        binlog_ok = log_bin == 1 and fmt == "ROW" and image == "FULL" and server_id > 0
        detail = (
            f"{s.host}:{s.db_port} answers; binlog {'ON' if log_bin else 'OFF'}, "
            f"format {fmt}, row image {image}, server_id {server_id}"
        )
        return [Check(self.name, binlog_ok, detail)]

    def where(self) -> list[tuple[str, str]]:
        s = self.settings
        return [("MariaDB", f"{s.host}:{s.db_port}, database {s.db_name}")]

    def purge_paths(self) -> list[Path]:
        return [self.layout.mariadb_dir]
