"""Every knob of the native stack, read from the environment with a documented default.

A bad value raises :class:`SettingsError` whose message names the variable; the CLI turns
that into a one-line error and a non-zero exit. The README's settings table lists the same
names and defaults (a unit test keeps the two in step).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orderstream import contract

REPO_ROOT = Path(__file__).resolve().parents[1]


class SettingsError(ValueError):
    """A setting from the environment is malformed; the message names the variable."""


# --- typed readers, shared by the dataflow's own settings --------------------------------


def env_str(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, default).strip()
    if not value:
        raise SettingsError(f"{name} must not be empty")
    return value


def env_int(
    env: Mapping[str, str], name: str, default: int, *, minimum: int = 0, maximum: int | None = None
) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and <= {maximum}" if maximum is not None else ""
        raise SettingsError(f"{name}={value} must be >= {minimum}{upper}")
    return value


def env_float(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not value >= minimum:  # also rejects NaN
        raise SettingsError(f"{name}={value} must be >= {minimum}")
    return value


def env_port(env: Mapping[str, str], name: str, default: int) -> int:
    return env_int(env, name, default, minimum=1, maximum=65535)


def env_ports(
    env: Mapping[str, str], name: str, default: tuple[int, ...], count: int
) -> tuple[int, ...]:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if len(parts) != count:
        raise SettingsError(f"{name}={raw!r} must list exactly {count} comma-separated ports")
    ports: list[int] = []
    for p in parts:
        if not p.isdigit() or not 1 <= int(p) <= 65535:
            raise SettingsError(f"{name}={raw!r}: {p!r} is not a port number (1-65535)")
        ports.append(int(p))
    return tuple(ports)


def env_heap(env: Mapping[str, str], name: str, default: str) -> str:
    value = env_str(env, name, default)
    digits, unit = value[:-1], value[-1:].lower()
    if not digits.isdigit() or unit not in {"m", "g"}:
        raise SettingsError(f"{name}={value!r} must be a JVM heap size such as 512m or 1g")
    return value


# --- the stack's settings -------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    runtime_dir: Path
    host: str
    db_port: int
    db_name: str
    db_app_user: str
    db_app_password: str
    db_cdc_user: str
    db_cdc_password: str
    broker_ports: tuple[int, int, int]
    controller_ports: tuple[int, int, int]
    broker_jmx_ports: tuple[int, int, int]
    kafka_heap: str
    connect_ports: tuple[int, int]
    connect_jmx_ports: tuple[int, int]
    connect_heap: str
    demo_rate: float
    kafka_bootstrap_override: str | None
    topic_cdc: str
    topic_processed: str
    topic_revenue: str
    topic_transitions: str
    topic_dlq: str
    window_seconds: int
    allowed_lateness_seconds: int
    dataflow_workers: int
    dataflow_snapshot_seconds: int
    dataflow_metrics_port: int
    extra: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    # derived addresses
    @property
    def bootstrap_servers(self) -> str:
        if self.kafka_bootstrap_override:
            return self.kafka_bootstrap_override
        return ",".join(f"{self.host}:{p}" for p in self.broker_ports)

    @property
    def connect_urls(self) -> tuple[str, ...]:
        return tuple(f"http://{self.host}:{p}" for p in self.connect_ports)

    @property
    def connect_url(self) -> str:
        return self.connect_urls[0]

    @property
    def supervisor_socket(self) -> Path:
        return self.runtime_dir / "supervisor.sock"

    @property
    def db_socket(self) -> Path:
        return self.runtime_dir / "mariadb" / "mysqld.sock"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        runtime = Path(env_str(e, "ORDERSTREAM_RUNTIME_DIR", str(REPO_ROOT / ".runtime")))
        broker_ports = env_ports(e, "ORDERSTREAM_KAFKA_PORTS", (9092, 9192, 9292), 3)
        controller_ports = env_ports(
            e, "ORDERSTREAM_KAFKA_CONTROLLER_PORTS", (19092, 19192, 19292), 3
        )
        broker_jmx = env_ports(e, "ORDERSTREAM_KAFKA_JMX_PORTS", (7071, 7072, 7073), 3)
        connect_ports = env_ports(e, "ORDERSTREAM_CONNECT_PORTS", (8083, 8084), 2)
        connect_jmx = env_ports(e, "ORDERSTREAM_CONNECT_JMX_PORTS", (7081, 7082), 2)
        db_port = env_port(e, "ORDERSTREAM_DB_PORT", 3306)
        settings = cls(
            runtime_dir=runtime,
            host=env_str(e, "ORDERSTREAM_HOST", "127.0.0.1"),
            db_port=db_port,
            db_name="shop",
            db_app_user=env_str(e, "ORDERSTREAM_DB_APP_USER", "shop_app"),
            db_app_password=env_str(e, "ORDERSTREAM_DB_APP_PASSWORD", "shop-app-dev-password"),
            db_cdc_user=env_str(e, "ORDERSTREAM_DB_CDC_USER", "debezium"),
            db_cdc_password=env_str(e, "ORDERSTREAM_DB_CDC_PASSWORD", "debezium-dev-password"),
            broker_ports=(broker_ports[0], broker_ports[1], broker_ports[2]),
            controller_ports=(controller_ports[0], controller_ports[1], controller_ports[2]),
            broker_jmx_ports=(broker_jmx[0], broker_jmx[1], broker_jmx[2]),
            kafka_heap=env_heap(e, "ORDERSTREAM_KAFKA_HEAP", "512m"),
            connect_ports=(connect_ports[0], connect_ports[1]),
            connect_jmx_ports=(connect_jmx[0], connect_jmx[1]),
            connect_heap=env_heap(e, "ORDERSTREAM_CONNECT_HEAP", "512m"),
            demo_rate=env_float(e, "ORDERSTREAM_DEMO_RATE", 2.0),
            kafka_bootstrap_override=e.get("ORDERSTREAM_KAFKA_BOOTSTRAP", "").strip() or None,
            topic_cdc=env_str(e, "ORDERSTREAM_TOPIC_CDC", contract.TOPIC_CDC),
            topic_processed=env_str(e, "ORDERSTREAM_TOPIC_PROCESSED", contract.TOPIC_PROCESSED),
            topic_revenue=env_str(e, "ORDERSTREAM_TOPIC_REVENUE", contract.TOPIC_REVENUE),
            topic_transitions=env_str(
                e, "ORDERSTREAM_TOPIC_TRANSITIONS", contract.TOPIC_TRANSITIONS
            ),
            topic_dlq=env_str(e, "ORDERSTREAM_TOPIC_DLQ", contract.TOPIC_DLQ),
            window_seconds=env_int(e, "ORDERSTREAM_WINDOW_SECONDS", 60, minimum=1),
            allowed_lateness_seconds=env_int(e, "ORDERSTREAM_ALLOWED_LATENESS_SECONDS", 10),
            dataflow_workers=env_int(e, "ORDERSTREAM_DATAFLOW_WORKERS", 1, minimum=1, maximum=64),
            dataflow_snapshot_seconds=env_int(
                e, "ORDERSTREAM_DATAFLOW_SNAPSHOT_SECONDS", 10, minimum=1
            ),
            dataflow_metrics_port=env_port(e, "ORDERSTREAM_DATAFLOW_METRICS_PORT", 9108),
            extra={k: v for k, v in e.items() if k.startswith("ORDERSTREAM_")},
        )
        settings._check_port_clashes()
        return settings

    def _check_port_clashes(self) -> None:
        named = {
            "ORDERSTREAM_DB_PORT": (self.db_port,),
            "ORDERSTREAM_KAFKA_PORTS": self.broker_ports,
            "ORDERSTREAM_KAFKA_CONTROLLER_PORTS": self.controller_ports,
            "ORDERSTREAM_KAFKA_JMX_PORTS": self.broker_jmx_ports,
            "ORDERSTREAM_CONNECT_PORTS": self.connect_ports,
            "ORDERSTREAM_CONNECT_JMX_PORTS": self.connect_jmx_ports,
            "ORDERSTREAM_DATAFLOW_METRICS_PORT": (self.dataflow_metrics_port,),
        }
        seen: dict[int, str] = {}
        for name, ports in named.items():
            for port in ports:
                if port in seen:
                    raise SettingsError(f"{name}: port {port} is also used by {seen[port]}")
                seen[port] = name
