"""Prometheus, Alertmanager and Grafana in compose see the shared files, and find every target.

Followed from the files themselves: the config file each service is started with is the
repository's, every rule file and target file prometheus.yml names is mounted, every scrape
target and webhook names a compose service on the port it listens on, and Grafana's providers
point at the mounted dashboards and at the Prometheus service.
"""

from __future__ import annotations

import glob
import posixpath
import re
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from orderstream.settings import REPO_ROOT
from tests.unit.compose import compose_file as cf

PLAIN: dict[str, cf.Service] = cf.load()["services"]
SCALED: dict[str, cf.Service] = cf.load(cf.COMPOSE_FILE, None, cf.SCALE_FILE)["services"]


def flag(service: cf.Service, name: str) -> str:
    for part in cf.command(service):
        if part.startswith(f"--{name}="):
            return part.split("=", 1)[1]
    raise AssertionError(f"no --{name} flag")


def repo_path(service: cf.Service, container_path: str) -> Path:
    source = cf.mount_source(service, container_path)
    assert source.startswith("./"), f"{container_path} is not a file of the repository"
    return REPO_ROOT / source


def read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def listen_port(services: dict[str, cf.Service], host: str) -> set[int]:
    """Ports the service listens on inside the network: published ones, and JMX agents."""
    service = services[host]
    ports = {p.container_port for p in cf.published_ports(service)}
    opts = cf.environment(service).get("KAFKA_OPTS", "")
    ports |= {int(p) for p in re.findall(r"-javaagent:\S+?=(\d+):", opts)}
    health = " ".join(service.get("healthcheck", {}).get("test", []))
    ports |= {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)/metrics", health)}
    return ports


def prometheus_config(services: dict[str, cf.Service]) -> tuple[cf.Service, str, dict[str, Any]]:
    service = services["prometheus"]
    config_path = flag(service, "config.file")
    assert repo_path(service, config_path) == REPO_ROOT / "prometheus.yml"
    return service, posixpath.dirname(config_path), read_yaml(REPO_ROOT / "prometheus.yml")


def test_prometheus_loads_every_rule_file_of_the_repository() -> None:
    service, config_dir, config = prometheus_config(PLAIN)
    loaded: set[Path] = set()
    for pattern in config["rule_files"]:
        container = posixpath.join(config_dir, pattern)
        directory, file_glob = posixpath.split(container)
        host_dir = repo_path(service, directory)
        loaded |= {Path(p) for p in glob.glob(str(host_dir / file_glob))}
    rules = set((REPO_ROOT / "prometheus" / "rules").glob("*.yml"))
    assert rules and loaded == rules


def target_files(
    services: dict[str, cf.Service],
) -> list[tuple[str, list[dict[str, Any]]]]:
    service, config_dir, config = prometheus_config(services)
    sd_configs = [
        (job["job_name"], sd)
        for job in config["scrape_configs"]
        for sd in job.get("file_sd_configs", [])
    ]
    sd_configs += [
        ("alerting", sd)
        for am in config["alerting"]["alertmanagers"]
        for sd in am.get("file_sd_configs", [])
    ]
    result = []
    for job, sd in sd_configs:
        for name in sd["files"]:
            path = repo_path(service, posixpath.join(config_dir, name))
            assert path.exists(), f"{job}: {name} is mounted from {path}, which does not exist"
            result.append((job, cast(list[dict[str, Any]], read_yaml(path))))
    return result


@pytest.mark.parametrize("services", [PLAIN, SCALED], ids=["compose", "compose+scale"])
def test_every_scrape_target_is_a_service_on_its_port(services: dict[str, cf.Service]) -> None:
    jobs: dict[str, set[str]] = {}
    for job, groups in target_files(services):
        for group in groups:
            for target in group["targets"]:
                host, port = target.rsplit(":", 1)
                assert host in services, f"{job}: {target} is no compose service"
                assert int(port) in listen_port(services, host), f"{job}: {target}"
                jobs.setdefault(job, set()).add(host)
    dataflows = {n for n in services if n.startswith("dataflow") and n != "dataflow-recovery"}
    assert jobs["dataflow"] == dataflows, "every dataflow process is scraped"
    assert jobs["kafka"] == {"kafka-1", "kafka-2", "kafka-3"}
    assert jobs["connect"] == {"connect-1", "connect-2"}
    assert jobs["alerting"] == {"alertmanager"}


def test_alertmanager_notifies_the_receiver_service() -> None:
    service = PLAIN["alertmanager"]
    config_path = repo_path(service, flag(service, "config.file"))
    assert config_path == REPO_ROOT / "alertmanager" / "alertmanager.yml"
    config = read_yaml(config_path)
    receiver = PLAIN["alert-receiver"]
    port = int(cf.environment(receiver)["ORDERSTREAM_ALERT_RECEIVER_PORT"])
    urls = [w["url"] for r in config["receivers"] for w in r.get("webhook_configs", [])]
    assert urls
    for url in urls:
        assert url.startswith(f"http://alert-receiver:{port}/"), url
    assert port in {p.container_port for p in cf.published_ports(receiver)}


def test_grafana_provisions_the_mounted_dashboards_from_the_prometheus_service() -> None:
    service = PLAIN["grafana"]
    provisioning = repo_path(service, "/etc/grafana/provisioning")
    assert provisioning == REPO_ROOT / "grafana" / "provisioning"
    providers = [
        provider
        for path in sorted((provisioning / "dashboards").glob("*.yml"))
        for provider in read_yaml(path)["providers"]
    ]
    assert providers
    for provider in providers:
        dashboards = repo_path(service, provider["options"]["path"])
        assert dashboards == REPO_ROOT / "grafana" / "dashboards"
        assert list(dashboards.glob("*.json")), "no dashboard to provision"
    datasources = [
        source
        for path in sorted((provisioning / "datasources").glob("*.yml"))
        for source in read_yaml(path)["datasources"]
    ]
    assert datasources
    for source in datasources:
        host, port = source["url"].removeprefix("http://").split(":")
        assert host in PLAIN and int(port) in listen_port(PLAIN, host), source["url"]
