"""docker-compose.yml without an engine: schema, dependencies, healthchecks, mounts, images, ports.

What `docker compose up -d --wait` needs to return when the pipeline is ready: every
long-running service has a healthcheck; every dependency names a service that can satisfy its
condition; every one-shot has a long-running dependant that waits for it to complete (otherwise
`--wait` fails when the one-shot exits).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from orderstream.settings import REPO_ROOT, Settings
from tests.unit.compose import compose_file as cf

CONFIG = cf.load()
SERVICES: dict[str, cf.Service] = CONFIG["services"]
SCALED = cf.load(cf.COMPOSE_FILE, None, cf.SCALE_FILE)["services"]
LONG_RUNNING = sorted(name for name, svc in SERVICES.items() if not cf.is_one_shot(svc))
ONE_SHOTS = sorted(name for name, svc in SERVICES.items() if cf.is_one_shot(svc))


def check_jsonschema() -> str:
    tool = Path(sys.executable).parent / "check-jsonschema"
    found = str(tool) if tool.exists() else shutil.which("check-jsonschema")
    assert found, "check-jsonschema is a dev dependency (pyproject.toml): reinstall the venv"
    return found


@pytest.mark.parametrize("path", [cf.COMPOSE_FILE, cf.SCALE_FILE], ids=lambda p: p.name)
def test_compose_file_validates_against_the_compose_specification(path: Path) -> None:
    result = subprocess.run(
        [check_jsonschema(), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_misspelt_key(tmp_path: Path) -> None:
    broken = cf.load_raw()
    broken["services"]["kafka-1"]["healthchek"] = broken["services"]["kafka-1"].pop("healthcheck")
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    result = subprocess.run(
        [check_jsonschema(), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "healthchek" in result.stdout


def test_the_same_picture_as_the_native_stack() -> None:
    expected = {
        "kafka-1", "kafka-2", "kafka-3", "connect-1", "connect-2", "mariadb", "dataflow",
        "loadgen", "mysqld-exporter", "prometheus", "alertmanager", "alert-receiver", "grafana",
    }  # fmt: skip
    assert expected <= set(LONG_RUNNING)
    assert set(ONE_SHOTS) == {
        "jmx-agent", "kafka-setup", "connector-setup", "dataflow-recovery",
    }  # fmt: skip


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_every_long_running_service_has_a_healthcheck_and_restarts(name: str) -> None:
    service = SERVICES[name]
    health = service.get("healthcheck", {})
    assert health and not health.get("disable"), f"{name} has no healthcheck"
    test = health["test"]
    assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1
    assert service["restart"] == "unless-stopped"


@pytest.mark.parametrize("services", [SERVICES, SCALED], ids=["compose", "compose+scale"])
def test_every_dependency_exists_and_can_satisfy_its_condition(
    services: dict[str, cf.Service],
) -> None:
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions (long form)"
        for target, spec in depends.items():
            assert target in services, f"{name} depends on {target}, which is no service"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}'s health"
            elif condition == "service_completed_successfully":
                assert cf.is_one_shot(services[target]), f"{target} is not a one-shot"
            else:
                pytest.fail(f"{name} -> {target}: {condition} does not wait for readiness")


@pytest.mark.parametrize("name", ONE_SHOTS)
def test_every_one_shot_is_awaited_by_a_long_running_service(name: str) -> None:
    """`up --wait` fails on an exited one-shot unless a running service depends on it."""
    waiting = [
        other
        for other in LONG_RUNNING
        if SERVICES[other].get("depends_on", {}).get(name, {}).get("condition")
        == "service_completed_successfully"
    ]
    assert waiting, f"no long-running service waits for one-shot {name} to complete"


def test_dependencies_have_no_cycle() -> None:
    seen: dict[str, int] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"dependency cycle: {' -> '.join((*path, name))}"
        if seen.get(name):
            return
        for target in SERVICES[name].get("depends_on", {}):
            visit(target, (*path, name))
        seen[name] = 1

    for name in SERVICES:
        visit(name, ())


def all_mounts(services: dict[str, cf.Service]) -> list[tuple[str, cf.Mount]]:
    return [(name, m) for name, svc in services.items() for m in cf.mounts(svc)]


@pytest.mark.parametrize("services", [SERVICES, SCALED], ids=["compose", "compose+scale"])
def test_every_bind_mount_is_a_path_of_the_repository_and_volumes_are_declared(
    services: dict[str, cf.Service],
) -> None:
    declared = set(CONFIG["volumes"])
    for name, mount in all_mounts(services):
        if mount.is_bind:
            assert mount.source.startswith("./"), f"{name}: {mount.source} is outside the repo"
            path = (REPO_ROOT / mount.source).resolve()
            assert path.is_relative_to(REPO_ROOT), f"{name}: {mount.source} leaves the repository"
            assert path.exists(), f"{name} mounts {mount.source}, which does not exist"
            assert mount.read_only, f"{name} mounts {mount.source} writable"
        else:
            assert mount.source in declared, f"{name}: volume {mount.source} is not declared"


def project_version() -> str:
    data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    return str(data["project"]["version"])


def pom_properties() -> dict[str, str]:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    root = ET.parse(REPO_ROOT / "stack" / "pom.xml").getroot()
    props = root.find("m:properties", ns)
    assert props is not None
    return {child.tag.split("}")[1]: child.text or "" for child in props}


EXACT_TAG = re.compile(r"^v?\d+\.\d+\.\d+")


@pytest.mark.parametrize("services", [SERVICES, SCALED], ids=["compose", "compose+scale"])
def test_every_image_is_pinned_to_an_exact_version(services: dict[str, cf.Service]) -> None:
    for name, service in services.items():
        image = str(service["image"])
        assert "@" not in image or ":" in image.split("@")[0]
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and EXACT_TAG.match(tag), f"{name}: {image} is not an exact version"
        if "build" in service:
            assert image == f"orderstream:{project_version()}", f"{name} builds {image}"


def test_images_match_the_versions_the_native_stack_resolves() -> None:
    """One version for Kafka and Debezium, native and containerised: stack/pom.xml's."""
    pom = pom_properties()
    for name in ("kafka-1", "kafka-2", "kafka-3"):
        assert SERVICES[name]["image"] == f"apache/kafka:{pom['kafka.version']}"
    for name in ("connect-1", "connect-2"):
        assert SERVICES[name]["image"] == f"quay.io/debezium/connect:{pom['debezium.version']}"
    assert SERVICES["mariadb"]["image"].startswith("mariadb:10.11.")


def test_ports_a_user_expects_are_published_on_loopback() -> None:
    native = Settings.from_env({})
    expected: dict[int, str] = {
        native.broker_ports[0]: "kafka-1",
        native.broker_ports[1]: "kafka-2",
        native.broker_ports[2]: "kafka-3",
        native.connect_ports[0]: "connect-1",
        native.connect_ports[1]: "connect-2",
        native.db_port: "mariadb",
        native.dataflow_metrics_port: "dataflow",
        9090: "prometheus",
        9093: "alertmanager",
        3000: "grafana",
    }
    published: dict[int, str] = {}
    for name, service in SERVICES.items():
        for mapping in cf.published_ports(service):
            assert mapping.host_ip == native.host, f"{name} publishes beyond {native.host}"
            assert mapping.host_port not in published, f"{mapping.host_port} published twice"
            published[mapping.host_port] = name
    for port, name in expected.items():
        assert published.get(port) == name, f"{name} should be reachable on {port}"


def test_the_env_file_holds_the_native_development_defaults() -> None:
    env = cf.read_env_file()
    native = Settings.from_env({})
    assert env["ORDERSTREAM_DB_APP_USER"] == native.db_app_user
    assert env["ORDERSTREAM_DB_APP_PASSWORD"] == native.db_app_password
    assert env["ORDERSTREAM_DB_CDC_USER"] == native.db_cdc_user
    assert env["ORDERSTREAM_DB_CDC_PASSWORD"] == native.db_cdc_password


def test_a_missing_credential_stops_compose_with_its_name() -> None:
    env = cf.read_env_file()
    del env["ORDERSTREAM_DB_CDC_PASSWORD"]
    with pytest.raises(cf.InterpolationError, match="ORDERSTREAM_DB_CDC_PASSWORD"):
        cf.load(cf.COMPOSE_FILE, env)


def test_no_credential_is_written_in_the_compose_file() -> None:
    raw = cf.COMPOSE_FILE.read_text()
    for key, value in cf.read_env_file().items():
        if "PASSWORD" in key:
            assert value not in raw, f"{key}'s value is in docker-compose.yml: use ${{{key}}}"


def test_the_readme_names_every_image_of_the_compose_file() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## With Docker", 1)[1].split("\n## ", 1)[0]
    for name, service in SERVICES.items():
        assert f"`{service['image']}`" in section, f"README: {name}'s image {service['image']}"


def test_grafana_runs_the_version_the_dashboards_are_built_for() -> None:
    """The dashboards are generated with grafana-foundation-sdk's build for one Grafana line."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    pins = [
        dep
        for dep in pyproject["project"]["dependencies"]
        if dep.startswith("grafana-foundation-sdk==")
    ]
    assert len(pins) == 1, "grafana-foundation-sdk is pinned once in pyproject.toml"
    sdk_grafana = re.search(r"!(\d+\.\d+)\.", pins[0])
    assert sdk_grafana, f"{pins[0]} names no Grafana version"
    tag = SERVICES["grafana"]["image"].rpartition(":")[2]
    assert tag.startswith(sdk_grafana.group(1) + "."), (tag, pins[0])
