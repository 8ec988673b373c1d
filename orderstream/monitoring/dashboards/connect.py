"""The Connect & Debezium dashboard: workers, the orders-cdc connector and its task, and the
Debezium MariaDB connector's binlog reader (metric names: stack/jmx/connect.yml)."""

from __future__ import annotations

from orderstream.monitoring.dashboards.common import Board, Query, increase, rate

C = 'job="connect"'
CC = 'job="connect", connector=~"$connector"'


def build() -> Board:
    board = Board(
        title="orderstream / Connect & Debezium",
        uid="orderstream-connect",
        description="The 2 Kafka Connect workers, connector and task status, and the Debezium "
        "MariaDB connector: events, delay behind the binlog, queue, errors.",
    )
    board.variable(
        "connector", "Connector", f"label_values(kafka_connect_connector_status{{{C}}}, connector)"
    )

    board.row("Status")
    board.stat(
        "Workers up",
        "Connect workers whose JMX exporter answers (alerts: ConnectWorkerDown, "
        "ConnectAllWorkersDown).",
        [Query(f"sum(up{{{C}}})", "up")],
        thresholds=((None, "red"), (1, "orange"), (2, "green")),
    )
    board.stat(
        "Connector status",
        "The connector's state as its worker reports it (alert: ConnectorNotRunning).",
        [
            Query(
                f"max by (connector, status) (kafka_connect_connector_status{{{CC}}})",
                "{{connector}}: {{status}}",
            )
        ],
        show_name=True,
        width=8,
    )
    board.stat(
        "Task status",
        "Each task's state (running, paused, failed, unassigned, restarting).",
        [
            Query(
                f"max by (connector, task, status) (kafka_connect_task_status{{{CC}}})",
                "{{connector}}/{{task}}: {{status}}",
            )
        ],
        show_name=True,
        width=8,
    )
    board.stat(
        "Binlog connected",
        "Debezium's streaming reader is connected to MariaDB (alert: DebeziumNotConnected).",
        [Query(f"max(debezium_mariadb_connected{{{C}}})", "connected")],
        thresholds=((None, "red"), (1, "green")),
        mappings={"0": "disconnected", "1": "connected"},
    )

    board.row("Workers")
    board.timeseries(
        "Tasks per worker by state",
        "Where the connector's tasks run, by state.",
        [
            Query(
                f"sum by (instance, state) (kafka_connect_worker_connector_tasks{{{CC}}})",
                "{{instance}} {{state}}",
            )
        ],
    )
    board.timeseries(
        "Rebalances and startup failures",
        "Group rebalances, and connector or task start-ups that failed.",
        [
            Query(
                increase(f"kafka_connect_worker_rebalances_total{{{C}}}", by="instance"),
                "rebalances {{instance}}",
            ),
            Query(
                increase(f"kafka_connect_worker_task_startup_failures_total{{{C}}}"),
                "task startup failures",
            ),
            Query(
                increase(f"kafka_connect_worker_connector_startup_failures_total{{{C}}}"),
                "connector startup failures",
            ),
        ],
        bars=True,
    )

    board.row("Debezium MariaDB connector")
    board.timeseries(
        "Change events seen",
        "Events read from the binlog (streaming) or the initial snapshot, per second.",
        [Query(rate(f"debezium_mariadb_events_seen_total{{{C}}}", by="context"), "{{context}}")],
        unit="ops",
    )
    board.timeseries(
        "Records written to Kafka",
        "Source records the connector's task wrote to Kafka, per second.",
        [
            Query(
                rate(f"kafka_connect_source_records_written_total{{{CC}}}", by="connector, task"),
                "{{connector}}/{{task}}",
            )
        ],
        unit="ops",
    )
    board.timeseries(
        "Behind source and since last event",
        "Commit-to-read delay of the last event (second resolution; 0 on heartbeats) and "
        "time since the last event (alert: DebeziumBehind above 30 s).",
        [
            Query(f"max(debezium_mariadb_behind_source_seconds{{{C}}})", "behind source"),
            Query(f"max(debezium_mariadb_since_last_event_seconds{{{C}}})", "since last event"),
        ],
        unit="s",
    )
    board.timeseries(
        "Change queue free",
        "Free share of the queue between the binlog reader and Kafka "
        "(alert: DebeziumQueueSaturated below 10 %).",
        [
            Query(
                f'min(debezium_mariadb_queue_remaining_capacity{{{C}, context="streaming"}} '
                f'/ debezium_mariadb_queue_capacity{{{C}, context="streaming"}})',
                "free",
            )
        ],
        unit="percentunit",
    )
    board.timeseries(
        "Errors",
        "Record errors and failures of the task, erroneous events and binlog disconnects.",
        [
            Query(
                increase(f"kafka_connect_task_record_errors_total{{{CC}}}"), "task record errors"
            ),
            Query(
                increase(f"kafka_connect_task_record_failures_total{{{CC}}}"),
                "task record failures",
            ),
            Query(increase(f"debezium_mariadb_erroneous_events_total{{{C}}}"), "erroneous events"),
            Query(increase(f"debezium_mariadb_disconnects_total{{{C}}}"), "binlog disconnects"),
        ],
        bars=True,
    )
    board.timeseries(
        "Binlog position",
        "Position of the last event read in the current binlog file.",
        [Query(f"max(debezium_mariadb_binlog_position{{{C}}})", "position")],
    )
    return board
