"""Docker Compose's own loader (compose-go) reads the files as these tests model them.

``composeload/`` is a small Go program around compose-go (pinned in its go.mod and go.sum), the
library Docker Compose uses to read, interpolate, merge and validate Compose files; it prints
the resolved project. The other tests in this folder read the files with
:mod:`tests.unit.compose.compose_file`; here both readings must agree, service by service, for
docker-compose.yml alone and with docker-compose.scale.yml over it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from orderstream.settings import REPO_ROOT
from tests.unit.compose import compose_file as cf

LOADER_SOURCE = Path(__file__).parent / "composeload"


@pytest.fixture(scope="module")
def composeload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.skip("no Go toolchain on this machine: the compose-go cross-check needs one")
    binary = tmp_path_factory.mktemp("composeload") / "composeload"
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly"}
    result = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=LOADER_SOURCE,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return binary


def load_with_compose_go(binary: Path, *files: Path) -> dict[str, Any]:
    result = subprocess.run(
        [str(binary), str(REPO_ROOT), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    project: dict[str, Any] = json.loads(result.stdout)
    return project


def normalise_ours(service: cf.Service) -> dict[str, Any]:
    return {
        "image": service["image"],
        "command": cf.command(service),
        "environment": cf.environment(service),
        "depends_on": {k: v["condition"] for k, v in service.get("depends_on", {}).items()},
        "healthcheck": service.get("healthcheck", {}).get("test"),
        "ports": sorted(
            (p.host_ip, p.host_port, p.container_port) for p in cf.published_ports(service)
        ),
        "volumes": sorted(
            (
                str((REPO_ROOT / m.source).resolve()) if m.is_bind else m.source,
                m.target,
                m.read_only,
            )
            for m in cf.mounts(service)
        ),
        "restart": str(service.get("restart", "no")),
    }


def normalise_compose_go(service: dict[str, Any]) -> dict[str, Any]:
    return {
        "image": service["image"],
        "command": service.get("command") or [],
        "environment": {
            k: "" if v is None else v for k, v in service.get("environment", {}).items()
        },
        "depends_on": {k: v["condition"] for k, v in service.get("depends_on", {}).items()},
        "healthcheck": service.get("healthcheck", {}).get("test"),
        "ports": sorted(
            (p["host_ip"], int(p["published"]), int(p["target"])) for p in service.get("ports", [])
        ),
        "volumes": sorted(
            (v["source"], v["target"], bool(v.get("read_only", False)))
            for v in service.get("volumes", [])
        ),
        "restart": service.get("restart", "no"),
    }


@pytest.mark.parametrize(
    "files", [(cf.COMPOSE_FILE,), (cf.COMPOSE_FILE, cf.SCALE_FILE)], ids=["compose", "scale"]
)
def test_compose_go_and_these_tests_read_the_same_project(
    composeload: Path, files: tuple[Path, ...]
) -> None:
    theirs = load_with_compose_go(composeload, *files)
    ours = cf.load(files[0], None, *files[1:])
    assert theirs["name"] == ours["name"]
    assert set(theirs["services"]) == set(ours["services"])
    for name, service in ours["services"].items():
        assert normalise_compose_go(theirs["services"][name]) == normalise_ours(service), name
    assert set(theirs["volumes"]) == set(ours["volumes"])


def test_compose_go_rejects_a_dependency_on_no_service(composeload: Path, tmp_path: Path) -> None:
    broken = cf.COMPOSE_FILE.read_text().replace(
        "    depends_on:\n      kafka-setup:", "    depends_on:\n      kafka-setupp:", 1
    )
    assert broken != cf.COMPOSE_FILE.read_text()
    (tmp_path / "docker-compose.yml").write_text(broken)
    shutil.copy(cf.ENV_FILE, tmp_path / ".env")
    result = subprocess.run(
        [str(composeload), str(tmp_path), str(tmp_path / "docker-compose.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "kafka-setupp" in result.stderr
