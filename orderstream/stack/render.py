"""Pure renderers for the native stack's configuration files.

Every function takes :class:`~orderstream.stack.layout.Layout` (paths) and
:class:`~orderstream.settings.Settings` (ports, users, heaps) and returns text; writing the
files is the runtime's job. Nothing here touches the filesystem or the network.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping

from orderstream.settings import Settings
from orderstream.stack.layout import Layout

KAFKA_NODE_IDS = (1, 2, 3)
CONNECT_WORKER_IDS = (1, 2)
CONNECT_GROUP_ID = "orderstream-connect"
ENV_CONFIG_PROVIDER = "org.apache.kafka.common.config.provider.EnvVarConfigProvider"

#: Kafka class names (Kafka 4 runs KRaft only).
KAFKA_MAIN = "kafka.Kafka"
STORAGE_TOOL_MAIN = "kafka.tools.StorageTool"
CONNECT_MAIN = "org.apache.kafka.connect.cli.ConnectDistributed"
QUORUM_TOOL_MAIN = "org.apache.kafka.tools.MetadataQuorumCommand"


def properties(values: Mapping[str, object]) -> str:
    """Render a Java .properties file; values are rendered with ``str`` (booleans lower-cased)."""
    lines = []
    for key, value in values.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if "\n" in text:
            raise ValueError(f"property {key} has a newline in its value")
        lines.append(f"{key}={text}")
    return "\n".join(lines) + "\n"


def kafka_node_properties(settings: Settings, layout: Layout, node_id: int) -> dict[str, object]:
    """server.properties of one combined broker+controller node (3 voters, static quorum)."""
    i = KAFKA_NODE_IDS.index(node_id)
    host = settings.host
    voters = ",".join(
        f"{nid}@{host}:{port}"
        for nid, port in zip(KAFKA_NODE_IDS, settings.controller_ports, strict=True)
    )
    return {
        "process.roles": "broker,controller",
        "node.id": node_id,
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://{host}:{settings.broker_ports[i]},"
        f"CONTROLLER://{host}:{settings.controller_ports[i]}",
        "advertised.listeners": f"PLAINTEXT://{host}:{settings.broker_ports[i]}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": layout.kafka_data(node_id),
        # durability: the contract's replication and ISR rules
        "default.replication.factor": 3,
        "min.insync.replicas": 2,
        "unclean.leader.election.enable": False,
        "offsets.topic.replication.factor": 3,
        "transaction.state.log.replication.factor": 3,
        "transaction.state.log.min.isr": 2,
        "share.coordinator.state.topic.replication.factor": 3,
        "share.coordinator.state.topic.min.isr": 2,
        "auto.create.topics.enable": False,
        "num.partitions": 3,
        # sized for a 2-core machine running three nodes side by side
        "num.network.threads": 2,
        "num.io.threads": 2,
        "num.recovery.threads.per.data.dir": 1,
        "background.threads": 2,
        "log.cleaner.threads": 1,
        "group.initial.rebalance.delay.ms": 0,
        "log.retention.hours": 168,
        "log.segment.bytes": 64 * 1024 * 1024,
    }


def connect_worker_properties(
    settings: Settings, layout: Layout, worker_id: int
) -> dict[str, object]:
    """connect-distributed.properties of one worker of the 2-worker group."""
    i = CONNECT_WORKER_IDS.index(worker_id)
    port = settings.connect_ports[i]
    return {
        "bootstrap.servers": settings.bootstrap_servers,
        "group.id": CONNECT_GROUP_ID,
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": False,
        "value.converter.schemas.enable": False,
        "config.storage.topic": "orderstream-connect-configs",
        "offset.storage.topic": "orderstream-connect-offsets",
        "status.storage.topic": "orderstream-connect-status",
        "config.storage.replication.factor": 3,
        "offset.storage.replication.factor": 3,
        "status.storage.replication.factor": 3,
        "offset.storage.partitions": 5,
        "status.storage.partitions": 3,
        "offset.flush.interval.ms": 5000,
        # Source records go out at once (Kafka 4's producer default waits 5 ms for a batch).
        "producer.linger.ms": 0,
        "listeners": f"http://{settings.host}:{port}",
        "rest.advertised.host.name": settings.host,
        "rest.advertised.port": port,
        "rest.advertised.listener": "http",
        "plugin.path": layout.connect_plugins,
        "connector.client.config.override.policy": "None",
        # A dead worker's tasks move to the survivor after this delay (default 5 minutes).
        "scheduled.rebalance.max.delay.ms": 10000,
        # Secrets and addresses reach connector configs only through this provider.
        "config.providers": "env",
        "config.providers.env.class": ENV_CONFIG_PROVIDER,
        "config.providers.env.param.allowlist.pattern": "^ORDERSTREAM_.*",
    }


def connect_worker_environment(settings: Settings) -> dict[str, str]:
    """The variables ``${env:...}`` placeholders in connectors/*.json resolve against."""
    return {
        "ORDERSTREAM_HOST": settings.host,
        "ORDERSTREAM_DB_PORT": str(settings.db_port),
        "ORDERSTREAM_DB_CDC_USER": settings.db_cdc_user,
        "ORDERSTREAM_DB_CDC_PASSWORD": settings.db_cdc_password,
        "ORDERSTREAM_KAFKA_BOOTSTRAP": settings.bootstrap_servers,
    }


def mariadb_cnf(settings: Settings, layout: Layout) -> str:
    """my.cnf for the project's own MariaDB: binlog ROW/FULL, a server id, UTC, loopback."""
    lines = [
        "[mariadbd]",
        f"datadir={layout.mariadb_data}",
        f"socket={layout.mariadb_socket}",
        f"pid-file={layout.mariadb_dir / 'mariadbd.pid'}",
        f"port={settings.db_port}",
        f"bind-address={settings.host}",
        "skip-name-resolve",
        f"log-bin={layout.mariadb_dir / 'binlog' / 'mariadb-bin'}",
        "binlog_format=ROW",
        "binlog_row_image=FULL",
        "server_id=1",
        "binlog_expire_logs_seconds=604800",
        "default_time_zone=+00:00",
        "character_set_server=utf8mb4",
        "collation_server=utf8mb4_bin",
        "innodb_buffer_pool_size=256M",
        "innodb_flush_log_at_trx_commit=1",
        "sync_binlog=1",
        "max_connections=200",
        "",
        "[client]",
        f"socket={layout.mariadb_socket}",
        "",
    ]
    return "\n".join(lines)


def jvm_command(
    settings: Settings,
    layout: Layout,
    *,
    main_class: str,
    args: list[str],
    heap: str,
    jmx_port: int | None,
    log_dir_name: str,
) -> list[str]:
    """The java command line of a Kafka node or Connect worker."""
    cmd = [
        "java",
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={layout.log4j2_config}",
        f"-Dkafka.logs.dir={layout.logs / log_dir_name}",
    ]
    if jmx_port is not None:
        cmd.append(f"-javaagent:{layout.jmx_agent}={settings.host}:{jmx_port}:{layout.jmx_config}")
    cmd += ["-cp", f"{layout.kafka_libs}/*", main_class, *args]
    return cmd


def kafka_node_command(settings: Settings, layout: Layout, node_id: int) -> list[str]:
    i = KAFKA_NODE_IDS.index(node_id)
    return jvm_command(
        settings,
        layout,
        main_class=KAFKA_MAIN,
        args=[str(layout.kafka_config(node_id))],
        heap=settings.kafka_heap,
        jmx_port=settings.broker_jmx_ports[i],
        log_dir_name=f"kafka-{node_id}",
    )


def connect_worker_command(settings: Settings, layout: Layout, worker_id: int) -> list[str]:
    i = CONNECT_WORKER_IDS.index(worker_id)
    return jvm_command(
        settings,
        layout,
        main_class=CONNECT_MAIN,
        args=[str(layout.connect_config(worker_id))],
        heap=settings.connect_heap,
        jmx_port=settings.connect_jmx_ports[i],
        log_dir_name=f"connect-{worker_id}",
    )


def mariadb_command(layout: Layout, run_as: str) -> list[str]:
    return ["mariadbd", f"--defaults-file={layout.mariadb_config}", f"--user={run_as}"]


#: Recovery partitions created once by `python -m bytewax.recovery DIR N`.
RECOVERY_PARTITIONS = 2
DATAFLOW_MODULE = "dataflows.orders"


def dataflow_command(settings: Settings, layout: Layout, python: str) -> list[str]:
    """`python -m bytewax.run dataflows.orders` with recovery on (-r/-s/-b) and -w workers."""
    interval = str(settings.dataflow_snapshot_seconds)
    return [
        python,
        "-m",
        "bytewax.run",
        DATAFLOW_MODULE,
        "-w",
        str(settings.dataflow_workers),
        "-r",
        str(layout.recovery),
        "-s",
        interval,
        "-b",
        interval,
    ]


def demo_load_command(settings: Settings, python: str) -> list[str]:
    """`orderstream loadgen` at ORDERSTREAM_DEMO_RATE changes per second, until stopped."""
    return [python, "-m", "orderstream", "loadgen", "--rate", f"{settings.demo_rate:g}"]


def _supervisor_env(env: Mapping[str, str]) -> str:
    # supervisor's KEY="value" list; values must not contain '"' or '%' unescaped
    parts = []
    for key, value in env.items():
        escaped = value.replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"')
        parts.append(f'{key}="{escaped}"')
    return ",".join(parts)


def supervisor_program(
    name: str,
    command: list[str],
    layout: Layout,
    *,
    priority: int,
    stopwaitsecs: int = 30,
    stopsignal: str = "TERM",
    environment: Mapping[str, str] | None = None,
    autostart: bool = False,
) -> str:
    lines = [
        f"[program:{name}]",
        "command=" + " ".join(shlex.quote(c) for c in command).replace("%", "%%"),
        f"directory={layout.root}",
        f"priority={priority}",
        f"autostart={str(autostart).lower()}",
        "autorestart=true",
        "startsecs=3",
        "startretries=5",
        f"stopsignal={stopsignal}",
        f"stopwaitsecs={stopwaitsecs}",
        "stopasgroup=true",
        "killasgroup=true",
        "redirect_stderr=true",
        f"stdout_logfile={layout.logs / (name + '.log')}",
        "stdout_logfile_maxbytes=20MB",
        "stdout_logfile_backups=3",
    ]
    if environment:
        lines.append("environment=" + _supervisor_env(environment))
    return "\n".join(lines) + "\n"


def supervisord_conf(settings: Settings, layout: Layout, run_as: str, python: str) -> str:
    """supervisord.conf: one program per component, all started on demand in dependency order."""
    head = f"""[unix_http_server]
file={layout.supervisor_socket}
chmod=0700

[supervisord]
logfile={layout.logs / "supervisord.log"}
logfile_maxbytes=10MB
logfile_backups=3
pidfile={layout.root / "supervisord.pid"}
childlogdir={layout.logs}
directory={layout.root}
minfds=16384

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{layout.supervisor_socket}
"""
    sections = [
        head,
        supervisor_program(
            "mariadb", mariadb_command(layout, run_as), layout, priority=10, stopwaitsecs=60
        ),
    ]
    for node_id in KAFKA_NODE_IDS:
        sections.append(
            supervisor_program(
                f"kafka-{node_id}",
                kafka_node_command(settings, layout, node_id),
                layout,
                priority=20,
                stopwaitsecs=60,
            )
        )
    worker_env = connect_worker_environment(settings)
    for worker_id in CONNECT_WORKER_IDS:
        sections.append(
            supervisor_program(
                f"connect-{worker_id}",
                connect_worker_command(settings, layout, worker_id),
                layout,
                priority=30,
                environment=worker_env,
            )
        )
    sections.append(
        supervisor_program(
            "dataflow",
            dataflow_command(settings, layout, python),
            layout,
            priority=40,
            # Bytewax's runtime ignores SIGTERM; SIGINT stops it at once (it resumes from
            # its last recovery snapshot, so nothing is lost either way)
            stopsignal="INT",
            environment={"PYTHONUNBUFFERED": "1"},
        )
    )
    sections.append(
        supervisor_program(
            "loadgen",
            demo_load_command(settings, python),
            layout,
            priority=50,
            environment={"PYTHONUNBUFFERED": "1"},
        )
    )
    return "\n".join(sections)


def users_sql(template: str, settings: Settings, quote: Callable[[str], str]) -> str:
    """Fill mysql-init/02-users.sql's %(name)s placeholders with quoted string literals.

    ``quote`` turns a str into a SQL string literal (pymysql's ``converters.escape_string``
    wrapped in quotes), injected so this module stays free of database imports.
    """
    values = {
        "cdc_user": quote(settings.db_cdc_user),
        "cdc_password": quote(settings.db_cdc_password),
        "app_user": quote(settings.db_app_user),
        "app_password": quote(settings.db_app_password),
    }
    return template % values
