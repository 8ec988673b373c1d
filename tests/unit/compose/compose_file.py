"""docker-compose.yml as the Compose tool would see it, and what the images make of it.

No Docker engine: the file is read with PyYAML (merge keys included), interpolated with the
variables of ``.env`` as Compose does (``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}``,
``$$``), and the environment of the Kafka and Debezium services is turned into the properties
their images' entrypoints write (apache/kafka: ``KAFKA_A_B`` -> ``a.b``, ``__`` -> ``_``,
``___`` -> ``-``; quay.io/debezium/connect: its short variables, then ``CONNECT_A_B`` -> ``a.b``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml

from orderstream.settings import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
SCALE_FILE = REPO_ROOT / "docker-compose.scale.yml"
ENV_FILE = REPO_ROOT / ".env"
DOCKERFILE = REPO_ROOT / "Dockerfile"

Service = dict[str, Any]

_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


class InterpolationError(ValueError):
    """A ``${VAR:?message}`` whose variable is unset or empty: Compose would refuse the file."""


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    """``KEY=VALUE`` lines of a Compose .env file (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}: not KEY=VALUE: {line!r}")
        values[key.strip()] = value.strip()
    return values


def interpolate(text: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("named")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        empty = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-"):
            return arg if empty else cast(str, value)
        if op in (":?", "?"):
            if empty:
                raise InterpolationError(f"{name}: {arg}")
            return cast(str, value)
        if op in (":+", "+"):
            return "" if empty else arg
        return value or ""

    return _INTERPOLATION.sub(replace, text)


def _interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_interpolate_tree(item, env) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_tree(value, env) for key, value in node.items()}
    return node


def load_raw(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    return cast(dict[str, Any], yaml.safe_load(path.read_text()))


def load(
    path: Path = COMPOSE_FILE, env: Mapping[str, str] | None = None, *overrides: Path
) -> dict[str, Any]:
    """The file (and overrides, service by service, key by key) interpolated with ``env``."""
    config = load_raw(path)
    for override in overrides:
        extra = load_raw(override)
        for name, service in extra.get("services", {}).items():
            config["services"].setdefault(name, {}).update(service)
    values = read_env_file() if env is None else env
    return cast(dict[str, Any], _interpolate_tree(config, values))


def environment(service: Service) -> dict[str, str]:
    raw = service.get("environment", {})
    if isinstance(raw, list):
        pairs = (str(item).partition("=") for item in raw)
        return {key: value for key, _, value in pairs}
    return {str(key): "" if value is None else str(value) for key, value in raw.items()}


def command(service: Service) -> list[str]:
    raw = service.get("command", [])
    assert isinstance(raw, list), "commands are written in exec form (a list)"
    return [str(part) for part in raw]


def is_one_shot(service: Service) -> bool:
    return str(service.get("restart", "no")) == "no"


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool

    @property
    def is_bind(self) -> bool:
        return self.source.startswith((".", "/"))


def mounts(service: Service) -> list[Mount]:
    result = []
    for entry in service.get("volumes", []):
        assert isinstance(entry, str), "volumes are written in the short form"
        parts = entry.split(":")
        result.append(Mount(parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")))
    return result


def mount_source(service: Service, target: str) -> str:
    """The host path or volume mounted at ``target`` (or at the mount containing it)."""
    best: Mount | None = None
    for mount in mounts(service):
        inside = target == mount.target or target.startswith(mount.target.rstrip("/") + "/")
        if inside and (best is None or len(mount.target) > len(best.target)):
            best = mount
    assert best is not None, f"nothing is mounted at {target}"
    rest = target[len(best.target) :].lstrip("/")
    return f"{best.source}/{rest}" if rest else best.source


@dataclass(frozen=True)
class PublishedPort:
    host_ip: str
    host_port: int
    container_port: int


def published_ports(service: Service) -> list[PublishedPort]:
    result = []
    for entry in service.get("ports", []):
        ip, host, container = str(entry).split(":")
        result.append(PublishedPort(ip, int(host), int(container)))
    return result


# --- what the images' entrypoints make of the environment ---------------------------------------

#: apache/kafka's docker/resources/common-scripts/kafka-propertiesSpec.json "excludes"
#: (KAFKA_HEAP_OPT is spelt so there: KAFKA_HEAP_OPTS does become a harmless "heap.opts").
KAFKA_IMAGE_EXCLUDES = frozenset(
    {
        "KAFKA_VERSION",
        "KAFKA_HEAP_OPT",
        "KAFKA_LOG4J_OPTS",
        "KAFKA_OPTS",
        "KAFKA_JMX_OPTS",
        "KAFKA_JVM_PERFORMANCE_OPTS",
        "KAFKA_GC_LOG_OPTS",
        "KAFKA_LOG4J_ROOT_LOGLEVEL",
        "KAFKA_LOG4J_LOGGERS",
        "KAFKA_TOOLS_LOG4J_LOGLEVEL",
    }
)
_SINGLE_UNDERSCORE = re.compile(r"[^_]_[^_]")


def kafka_image_properties(env: Mapping[str, str]) -> dict[str, str]:
    """server.properties the apache/kafka image renders from ``KAFKA_*`` (its ub ConvertKey)."""
    props = {}
    for key, value in env.items():
        if not key.startswith("KAFKA_") or key in KAFKA_IMAGE_EXCLUDES or "=" in value:
            continue
        name = _SINGLE_UNDERSCORE.sub(lambda m: m.group(0).replace("_", "."), key[len("KAFKA_") :])
        props[name.replace("___", "-").replace("__", "_").lower()] = value
    return props


#: quay.io/debezium/connect's entrypoint: short variable -> the CONNECT_* it exports (winning
#: over a CONNECT_* set directly), with the image's defaults.
DEBEZIUM_SHORT_VARIABLES: dict[str, tuple[str, str | None]] = {
    "BOOTSTRAP_SERVERS": ("CONNECT_BOOTSTRAP_SERVERS", "0.0.0.0:9092"),
    "GROUP_ID": ("CONNECT_GROUP_ID", "1"),
    "CONFIG_STORAGE_TOPIC": ("CONNECT_CONFIG_STORAGE_TOPIC", ""),
    "OFFSET_STORAGE_TOPIC": ("CONNECT_OFFSET_STORAGE_TOPIC", ""),
    "STATUS_STORAGE_TOPIC": ("CONNECT_STATUS_STORAGE_TOPIC", None),
    "KEY_CONVERTER": ("CONNECT_KEY_CONVERTER", "org.apache.kafka.connect.json.JsonConverter"),
    "VALUE_CONVERTER": ("CONNECT_VALUE_CONVERTER", "org.apache.kafka.connect.json.JsonConverter"),
    "OFFSET_FLUSH_INTERVAL_MS": ("CONNECT_OFFSET_FLUSH_INTERVAL_MS", "60000"),
    "OFFSET_FLUSH_TIMEOUT_MS": ("CONNECT_OFFSET_FLUSH_TIMEOUT_MS", "5000"),
    "SHUTDOWN_TIMEOUT": ("CONNECT_TASK_SHUTDOWN_GRACEFUL_TIMEOUT_MS", "10000"),
    "REST_PORT": ("CONNECT_REST_PORT", "8083"),
    "ADVERTISED_PORT": ("CONNECT_REST_ADVERTISED_PORT", "8083"),
    "ADVERTISED_HOST_NAME": ("CONNECT_REST_ADVERTISED_HOST_NAME", "<container ip>"),
}
#: ENV of the image itself
DEBEZIUM_IMAGE_ENV = {"CONNECT_PLUGIN_PATH": "/kafka/connect"}


def debezium_connect_properties(env: Mapping[str, str]) -> dict[str, str]:
    """connect-distributed.properties keys the Debezium image's entrypoint sets from ``env``."""
    exported = {**DEBEZIUM_IMAGE_ENV, **env}
    for short, (connect_var, default) in DEBEZIUM_SHORT_VARIABLES.items():
        value = env.get(short, default)
        if value is not None:
            exported[connect_var] = value
    return {
        key[len("CONNECT_") :].lower().replace("_", "."): value
        for key, value in exported.items()
        if key.startswith("CONNECT_") and not key.startswith("CONNECT_LOG4J")
    }


def java_property_text(value: object) -> str:
    """A native renderer's value as it appears in a .properties file (render.properties)."""
    return str(value).lower() if isinstance(value, bool) else str(value)
