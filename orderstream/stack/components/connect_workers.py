"""Kafka Connect 4.1.1: a distributed group of 2 workers with the Debezium MariaDB plugin."""

from __future__ import annotations

from orderstream.knobs import env_int
from orderstream.poll import NotReady, wait_for
from orderstream.stack import render
from orderstream.stack.components.base import (
    Check,
    Component,
    File,
    Port,
    Program,
    StackContext,
    StackError,
)
from orderstream.stack.components.jvm import jvm_command
from orderstream.stack.connect import ConnectClient, ConnectError

WORKER_IDS = (1, 2)
GROUP_ID = "orderstream-connect"
CONNECT_MAIN = "org.apache.kafka.connect.cli.ConnectDistributed"
ENV_CONFIG_PROVIDER = "org.apache.kafka.common.config.provider.EnvVarConfigProvider"
DEBEZIUM_PLUGIN_DIR = "debezium-connector-mariadb"
DEBEZIUM_PLUGIN_CLASS = "io.debezium.connector.mariadb.MariaDbConnector"
#: Latency knobs (docs/dataflow.md, Latency). How long Debezium's task waits for new binlog
#: events before it hands an empty batch back (Debezium's default is 500 ms); the connector
#: file reads it as ${env:ORDERSTREAM_CDC_POLL_INTERVAL_MS}.
CDC_POLL_INTERVAL_MS = ("ORDERSTREAM_CDC_POLL_INTERVAL_MS", 5)
#: How long the workers' producer waits to fill a batch (Kafka 4's default is 5 ms).
PRODUCER_LINGER_MS = ("ORDERSTREAM_CONNECT_PRODUCER_LINGER_MS", 0)


def program_name(worker_id: int) -> str:
    return f"connect-{worker_id}"


class ConnectWorkers(Component):
    name = "connect"

    def __init__(self, ctx: StackContext) -> None:
        super().__init__(ctx)
        name, default = CDC_POLL_INTERVAL_MS
        self.cdc_poll_interval_ms = env_int(ctx.env, name, default, minimum=1, maximum=60_000)
        name, default = PRODUCER_LINGER_MS
        self.producer_linger_ms = env_int(ctx.env, name, default, minimum=0, maximum=60_000)

    def worker_properties(self, worker_id: int) -> dict[str, render.Value]:
        """connect-distributed.properties of one worker of the 2-worker group."""
        s = self.settings
        port = s.connect_ports[WORKER_IDS.index(worker_id)]
        return {
            "bootstrap.servers": s.bootstrap_servers,
            "group.id": GROUP_ID,
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
            # The source task's producer (acks=all is Connect's own default for it).
            "producer.linger.ms": self.producer_linger_ms,
            "listeners": f"http://{s.host}:{port}",
            "rest.advertised.host.name": s.host,
            "rest.advertised.port": port,
            "rest.advertised.listener": "http",
            "plugin.path": self.layout.connect_plugins,
            "connector.client.config.override.policy": "None",
            # A dead worker's tasks move to the survivor after this delay (default 5 minutes).
            "scheduled.rebalance.max.delay.ms": 10000,
            # Secrets and addresses reach connector configs only through this provider.
            "config.providers": "env",
            "config.providers.env.class": ENV_CONFIG_PROVIDER,
            "config.providers.env.param.allowlist.pattern": "^ORDERSTREAM_.*",
        }

    def environment(self) -> dict[str, str]:
        """The variables ``${env:...}`` placeholders in connectors/*.json resolve against."""
        s = self.settings
        return {
            "ORDERSTREAM_HOST": s.host,
            "ORDERSTREAM_DB_PORT": str(s.db_port),
            "ORDERSTREAM_DB_CDC_USER": s.db_cdc_user,
            "ORDERSTREAM_DB_CDC_PASSWORD": s.db_cdc_password,
            "ORDERSTREAM_KAFKA_BOOTSTRAP": s.bootstrap_servers,
            "ORDERSTREAM_TOPIC_CDC": s.topic_cdc,
            CDC_POLL_INTERVAL_MS[0]: str(self.cdc_poll_interval_ms),
        }

    def worker_command(self, worker_id: int) -> list[str]:
        i = WORKER_IDS.index(worker_id)
        return jvm_command(
            self.layout,
            main_class=CONNECT_MAIN,
            args=[str(self.layout.connect_config(worker_id))],
            heap=self.settings.connect_heap,
            jmx=(self.settings.host, self.settings.connect_jmx_ports[i]),
            jmx_rules="connect",
            log_dir_name=program_name(worker_id),
        )

    def files(self) -> list[File]:
        return [
            File(self.layout.connect_config(w), render.properties(self.worker_properties(w)))
            for w in WORKER_IDS
        ]

    def programs(self) -> list[Program]:
        env = self.environment()
        return [Program(program_name(w), self.worker_command(w), env) for w in WORKER_IDS]

    def ports(self) -> list[Port]:
        s = self.settings
        return [
            port
            for i, w in enumerate(WORKER_IDS)
            for port in (
                Port(s.connect_ports[i], "ORDERSTREAM_CONNECT_PORTS", program_name(w)),
                Port(s.connect_jmx_ports[i], "ORDERSTREAM_CONNECT_JMX_PORTS", program_name(w)),
            )
        ]

    def check_installed(self) -> None:
        plugin = self.layout.connect_plugins / DEBEZIUM_PLUGIN_DIR
        if not plugin.exists():
            raise StackError(
                f"Debezium MariaDB plugin missing at {plugin}: run scripts/start.sh to install it"
            )

    def wait_ready(self) -> None:
        for url in self.settings.connect_urls:
            client = ConnectClient(url)
            wait_for(
                f"Connect worker {url}",
                client.worker_info,
                timeout=180,
                interval=1,
                retry_on=(ConnectError,),
            )
        client = ConnectClient(self.settings.connect_url)

        def plugin_loaded() -> None:
            if DEBEZIUM_PLUGIN_CLASS not in client.plugins():
                raise NotReady(f"{DEBEZIUM_PLUGIN_CLASS} not in the worker's plugins")

        wait_for("the Debezium MariaDB plugin", plugin_loaded, timeout=30, retry_on=(ConnectError,))

    def where(self) -> list[tuple[str, str]]:
        return [("Kafka Connect REST", ", ".join(self.settings.connect_urls))]

    def checks(self) -> list[Check]:
        checks = []
        for worker_id, url in zip(WORKER_IDS, self.settings.connect_urls, strict=True):
            name = program_name(worker_id)
            try:
                info = ConnectClient(url).worker_info()
            except ConnectError as exc:
                checks.append(Check(name, False, str(exc)))
                continue
            version = info.get("version")
            checks.append(Check(name, True, f"{url} answers (Kafka Connect {version})"))
        return checks
