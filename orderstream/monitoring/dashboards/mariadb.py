"""The MariaDB dashboard, from prometheus-mysqld-exporter: up, queries, commits, binlog,
connections."""

from __future__ import annotations

from orderstream.monitoring.dashboards.common import Board, Query, rate

M = 'job="mysqld"'


def build() -> Board:
    board = Board(
        title="orderstream / MariaDB",
        uid="orderstream-mariadb",
        description="MariaDB, the source of every order: availability, queries, commits, the "
        "binlog Debezium reads, connections.",
    )
    board.row("Status")
    board.stat(
        "MariaDB up",
        "The exporter can query MariaDB (alert: MariaDBDown).",
        [Query(f"min(mysql_up{{{M}}})", "up")],
        thresholds=((None, "red"), (1, "green")),
        mappings={"0": "down", "1": "up"},
    )
    board.stat(
        "Binary log",
        "log_bin must be ON for change data capture (alert: MariaDBBinlogOff).",
        [Query(f"min(mysql_global_variables_log_bin{{{M}}})", "log_bin")],
        thresholds=((None, "red"), (1, "green")),
        mappings={"0": "OFF", "1": "ON"},
    )
    board.stat(
        "Uptime",
        "Time since MariaDB started.",
        [Query(f"max(mysql_global_status_uptime{{{M}}})", "uptime")],
        unit="s",
    )
    board.stat(
        "Connections",
        "Open client connections, of max_connections.",
        [Query(f"sum(mysql_global_status_threads_connected{{{M}}})", "connected")],
    )

    board.row("Load")
    board.timeseries(
        "Queries per second",
        "Statements executed by the server.",
        [Query(rate(f"mysql_global_status_queries{{{M}}}"), "queries")],
        unit="qps",
    )
    board.timeseries(
        "Statements by command",
        "SELECT, INSERT, UPDATE, DELETE, COMMIT and ROLLBACK statements per second.",
        [
            Query(
                rate(
                    f"mysql_global_status_commands_total{{{M}, "
                    'command=~"select|insert|update|delete|commit|rollback"}',
                    by="command",
                ),
                "{{command}}",
            )
        ],
        unit="ops",
    )
    board.timeseries(
        "Commits",
        "Transactions committed by the storage engine per second.",
        [Query(rate(f'mysql_global_status_handlers_total{{{M}, handler="commit"}}'), "commits")],
        unit="ops",
    )
    board.timeseries(
        "Row operations",
        "Rows written, updated and deleted (storage-engine handler calls), and rows read, "
        "per second.",
        [
            Query(
                rate(
                    f'mysql_global_status_handlers_total{{{M}, handler=~"write|update|delete"}}',
                    by="handler",
                ),
                "{{handler}}",
            ),
            Query(rate(f"mysql_global_status_rows_read{{{M}}}"), "read"),
        ],
        unit="ops",
    )

    board.row("Binlog and connections")
    board.timeseries(
        "Binlog written",
        "Bytes written to the binary log per second (what Debezium reads).",
        [Query(rate(f"mysql_global_status_binlog_bytes_written{{{M}}}"), "bytes")],
        unit="Bps",
    )
    board.timeseries(
        "Binlog files and size",
        "Binary log files kept and their total size (binlog_expire_logs_seconds prunes them).",
        [
            Query(f"max(mysql_binlog_files{{{M}}})", "files"),
            Query(f"max(mysql_binlog_size_bytes{{{M}}})", "size bytes"),
        ],
    )
    board.timeseries(
        "Connections",
        "Connected and running threads, the max_connections limit, and aborted connections.",
        [
            Query(f"sum(mysql_global_status_threads_connected{{{M}}})", "connected"),
            Query(f"sum(mysql_global_status_threads_running{{{M}}})", "running"),
            Query(f"max(mysql_global_variables_max_connections{{{M}}})", "max_connections"),
            Query(rate(f"mysql_global_status_aborted_connects{{{M}}}"), "aborted connects/s"),
        ],
    )
    return board
