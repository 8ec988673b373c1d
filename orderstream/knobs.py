"""Reading ``ORDERSTREAM_*`` variables: typed readers, and the knobs several programs share.

Each program has its own small settings model (the stack's :class:`orderstream.settings.Settings`,
the dataflow's :class:`dataflows.settings.DataflowSettings`, a component's own knobs) built from
these readers, so a program reads only the variables it uses. A knob read by more than one
program is defined here once, with its one default. A malformed value raises
:class:`SettingsError` whose message names the variable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from orderstream import contract


class SettingsError(ValueError):
    """A setting from the environment is malformed; the message names the variable."""


Env = Mapping[str, str]

# --- typed readers ----------------------------------------------------------------------------


def env_str(env: Env, name: str, default: str) -> str:
    value = env.get(name, default).strip()
    if not value:
        raise SettingsError(f"{name} must not be empty")
    return value


def env_int(
    env: Env, name: str, default: int, *, minimum: int = 0, maximum: int | None = None
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


def env_float(env: Env, name: str, default: float, *, minimum: float = 0.0) -> float:
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


def env_port(env: Env, name: str, default: int) -> int:
    return env_int(env, name, default, minimum=1, maximum=65535)


def env_ports(env: Env, name: str, default: tuple[int, ...], count: int) -> tuple[int, ...]:
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


def env_heap(env: Env, name: str, default: str) -> str:
    value = env_str(env, name, default)
    digits, unit = value[:-1], value[-1:].lower()
    if not digits.isdigit() or unit not in {"m", "g"}:
        raise SettingsError(f"{name}={value!r} must be a JVM heap size such as 512m or 1g")
    return value


def check_port_clashes(named: Iterable[tuple[str, Iterable[int]]]) -> None:
    """Fail naming both settings when two of them choose the same port."""
    seen: dict[int, str] = {}
    for name, ports in named:
        for port in ports:
            if port in seen:
                raise SettingsError(f"{name}: port {port} is also used by {seen[port]}")
            seen[port] = name


# --- knobs shared by several programs ---------------------------------------------------------

HOST = "ORDERSTREAM_HOST"
KAFKA_PORTS = "ORDERSTREAM_KAFKA_PORTS"
KAFKA_BOOTSTRAP = "ORDERSTREAM_KAFKA_BOOTSTRAP"
DATAFLOW_WORKERS = "ORDERSTREAM_DATAFLOW_WORKERS"
DATAFLOW_METRICS_PORT = "ORDERSTREAM_DATAFLOW_METRICS_PORT"
WINDOW_SECONDS = "ORDERSTREAM_WINDOW_SECONDS"
ALLOWED_LATENESS_SECONDS = "ORDERSTREAM_ALLOWED_LATENESS_SECONDS"

DEMO_RATE = "ORDERSTREAM_DEMO_RATE"

DEFAULT_HOST = "127.0.0.1"
DEFAULT_KAFKA_PORTS = (9092, 9192, 9292)
DEFAULT_DATAFLOW_METRICS_PORT = 9108
DEFAULT_WINDOW_SECONDS = 60
DEFAULT_ALLOWED_LATENESS_SECONDS = 10


def host(env: Env) -> str:
    """The address every component binds to and is reached at."""
    return env_str(env, HOST, DEFAULT_HOST)


def kafka_ports(env: Env) -> tuple[int, int, int]:
    """Broker listener ports of the 3 Kafka nodes."""
    p = env_ports(env, KAFKA_PORTS, DEFAULT_KAFKA_PORTS, 3)
    return (p[0], p[1], p[2])


def bootstrap_servers(env: Env) -> str:
    """ORDERSTREAM_KAFKA_BOOTSTRAP, or the 3 local brokers."""
    override = env.get(KAFKA_BOOTSTRAP, "").strip()
    if override:
        return override
    address = host(env)
    return ",".join(f"{address}:{port}" for port in kafka_ports(env))


def dataflow_metrics_port(env: Env) -> int:
    """Prometheus /metrics port of dataflow process 0 (process i serves on port + i)."""
    return env_port(env, DATAFLOW_METRICS_PORT, DEFAULT_DATAFLOW_METRICS_PORT)


def demo_rate(env: Env) -> float:
    """Order changes per second of the demo load (and the loadgen's default rate)."""
    return env_float(env, DEMO_RATE, 2.0)


@dataclass(frozen=True)
class Database:
    """Where the application's database is and how the application logs in."""

    host: str
    port: int
    name: str
    user: str
    password: str = field(repr=False)

    @classmethod
    def from_env(cls, env: Env) -> Database:
        return cls(
            host=host(env),
            port=env_port(env, "ORDERSTREAM_DB_PORT", 3306),
            name="shop",
            user=env_str(env, "ORDERSTREAM_DB_APP_USER", "shop_app"),
            password=env_str(env, "ORDERSTREAM_DB_APP_PASSWORD", "shop-app-dev-password"),
        )

    @property
    def where(self) -> str:
        return f"database {self.user}@{self.host}:{self.port}/{self.name}"


def window_seconds(env: Env) -> int:
    return env_int(env, WINDOW_SECONDS, DEFAULT_WINDOW_SECONDS, minimum=1)


def allowed_lateness_seconds(env: Env) -> int:
    return env_int(env, ALLOWED_LATENESS_SECONDS, DEFAULT_ALLOWED_LATENESS_SECONDS)


@dataclass(frozen=True)
class TopicNames:
    """The contract's topics under their configured names."""

    cdc: str
    processed: str
    revenue: str
    transitions: str
    dlq: str

    @classmethod
    def from_env(cls, env: Env) -> TopicNames:
        return cls(
            cdc=env_str(env, "ORDERSTREAM_TOPIC_CDC", contract.TOPIC_CDC),
            processed=env_str(env, "ORDERSTREAM_TOPIC_PROCESSED", contract.TOPIC_PROCESSED),
            revenue=env_str(env, "ORDERSTREAM_TOPIC_REVENUE", contract.TOPIC_REVENUE),
            transitions=env_str(env, "ORDERSTREAM_TOPIC_TRANSITIONS", contract.TOPIC_TRANSITIONS),
            dlq=env_str(env, "ORDERSTREAM_TOPIC_DLQ", contract.TOPIC_DLQ),
        )

    def by_contract_name(self) -> dict[str, str]:
        """Contract name -> configured name, e.g. ``{"mysql-orders": "mysql-orders", ...}``."""
        return {
            contract.TOPIC_CDC: self.cdc,
            contract.TOPIC_PROCESSED: self.processed,
            contract.TOPIC_REVENUE: self.revenue,
            contract.TOPIC_TRANSITIONS: self.transitions,
            contract.TOPIC_DLQ: self.dlq,
        }
