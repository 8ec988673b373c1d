"""The native stack's settings: every knob of `orderstream stack`, `status` and the CLI tools.

Read from the environment with a documented default (the README's settings table lists the
same names; a unit test keeps the two in step). A bad value raises :class:`SettingsError`
naming the variable; the CLI turns that into a one-line error and a non-zero exit. The
dataflow does not use this model: it reads only its own knobs (``dataflows/settings.py``).
A stack component with knobs of its own reads them in its module
(``orderstream/stack/components/``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from orderstream import knobs
from orderstream.knobs import (
    Database,
    Env,
    SettingsError,
    TopicNames,
    env_heap,
    env_int,
    env_ports,
    env_str,
)

__all__ = ["REPO_ROOT", "Settings", "SettingsError"]

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    runtime_dir: Path
    host: str
    db_port: int
    db_name: str
    db_app_user: str
    db_app_password: str = field(repr=False)
    db_cdc_user: str
    db_cdc_password: str = field(repr=False)
    broker_ports: tuple[int, int, int]
    controller_ports: tuple[int, int, int]
    broker_jmx_ports: tuple[int, int, int]
    kafka_heap: str
    connect_ports: tuple[int, int]
    connect_jmx_ports: tuple[int, int]
    connect_heap: str
    demo_rate: float
    bootstrap_servers: str
    topics: TopicNames
    window_seconds: int
    allowed_lateness_seconds: int
    dataflow_workers: int
    dataflow_snapshot_seconds: int
    dataflow_metrics_port: int

    @property
    def database(self) -> Database:
        """The application's database, as loadgen and reconcile reach it."""
        return Database(
            self.host, self.db_port, self.db_name, self.db_app_user, self.db_app_password
        )

    @property
    def connect_urls(self) -> tuple[str, ...]:
        return tuple(f"http://{self.host}:{p}" for p in self.connect_ports)

    @property
    def connect_url(self) -> str:
        return self.connect_urls[0]

    @property
    def dataflow_metrics_url(self) -> str:
        return f"http://{self.host}:{self.dataflow_metrics_port}/metrics"

    # the topics under their configured names
    @property
    def topic_cdc(self) -> str:
        return self.topics.cdc

    @property
    def topic_processed(self) -> str:
        return self.topics.processed

    @property
    def topic_revenue(self) -> str:
        return self.topics.revenue

    @property
    def topic_transitions(self) -> str:
        return self.topics.transitions

    @property
    def topic_dlq(self) -> str:
        return self.topics.dlq

    @classmethod
    def from_env(cls, env: Env | None = None) -> Settings:
        e = os.environ if env is None else env
        runtime = Path(env_str(e, "ORDERSTREAM_RUNTIME_DIR", str(REPO_ROOT / ".runtime")))
        controller_ports = env_ports(
            e, "ORDERSTREAM_KAFKA_CONTROLLER_PORTS", (19092, 19192, 19292), 3
        )
        broker_jmx = env_ports(e, "ORDERSTREAM_KAFKA_JMX_PORTS", (7071, 7072, 7073), 3)
        connect_ports = env_ports(e, "ORDERSTREAM_CONNECT_PORTS", (8083, 8084), 2)
        connect_jmx = env_ports(e, "ORDERSTREAM_CONNECT_JMX_PORTS", (7081, 7082), 2)
        database = Database.from_env(e)
        settings = cls(
            runtime_dir=runtime,
            host=database.host,
            db_port=database.port,
            db_name=database.name,
            db_app_user=database.user,
            db_app_password=database.password,
            db_cdc_user=env_str(e, "ORDERSTREAM_DB_CDC_USER", "debezium"),
            db_cdc_password=env_str(e, "ORDERSTREAM_DB_CDC_PASSWORD", "debezium-dev-password"),
            broker_ports=knobs.kafka_ports(e),
            controller_ports=(controller_ports[0], controller_ports[1], controller_ports[2]),
            broker_jmx_ports=(broker_jmx[0], broker_jmx[1], broker_jmx[2]),
            kafka_heap=env_heap(e, "ORDERSTREAM_KAFKA_HEAP", "512m"),
            connect_ports=(connect_ports[0], connect_ports[1]),
            connect_jmx_ports=(connect_jmx[0], connect_jmx[1]),
            connect_heap=env_heap(e, "ORDERSTREAM_CONNECT_HEAP", "512m"),
            demo_rate=knobs.demo_rate(e),
            bootstrap_servers=knobs.bootstrap_servers(e),
            topics=TopicNames.from_env(e),
            window_seconds=knobs.window_seconds(e),
            allowed_lateness_seconds=knobs.allowed_lateness_seconds(e),
            dataflow_workers=env_int(e, knobs.DATAFLOW_WORKERS, 1, minimum=1, maximum=64),
            dataflow_snapshot_seconds=env_int(
                e, "ORDERSTREAM_DATAFLOW_SNAPSHOT_SECONDS", 10, minimum=1
            ),
            dataflow_metrics_port=knobs.dataflow_metrics_port(e),
        )
        return settings
