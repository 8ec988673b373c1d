"""scripts/lib.sh: a missing prerequisite stops with a message that says what to install."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orderstream.settings import REPO_ROOT


def fake_tool(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH with the basics scripts need, and fakes of the prerequisites."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sed", "head", "id", "dirname", "cat", "grep", "dpkg-query", "sha256sum", "cut"):
        real = subprocess.run(["bash", "-c", f"command -v {tool}"], capture_output=True, text=True)
        if real.returncode == 0:
            (bin_dir / tool).symlink_to(real.stdout.strip())
    fake_tool(bin_dir, "java", 'echo \'openjdk version "17.0.15" 2025-04-15\' >&2')
    fake_tool(bin_dir, "mvn", "exit 0")
    fake_tool(bin_dir, "python3", "echo Python 3.11.7")  # answers the 3.11 check
    return bin_dir


def preflight(bin_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", "-c", f"source {REPO_ROOT}/scripts/lib.sh && preflight_checks"],
        capture_output=True,
        text=True,
        env={"PATH": str(bin_dir), "HOME": str(bin_dir)},
        timeout=30,
    )


def test_preflight_passes_with_every_prerequisite(bin_dir: Path) -> None:
    result = preflight(bin_dir)
    assert result.returncode == 0, result.stderr


def test_missing_java_says_what_to_install(bin_dir: Path) -> None:
    (bin_dir / "java").unlink()
    result = preflight(bin_dir)
    assert result.returncode != 0
    assert "java 17 or newer is required" in result.stderr
    assert "openjdk-17" in result.stderr


def test_old_java_is_named(bin_dir: Path) -> None:
    fake_tool(bin_dir, "java", 'echo \'openjdk version "11.0.2" 2019-01-15\' >&2')
    result = preflight(bin_dir)
    assert result.returncode != 0
    assert "found: openjdk version \"11.0.2\"" in result.stderr


def test_missing_maven_says_what_to_install(bin_dir: Path) -> None:
    (bin_dir / "mvn").unlink()
    result = preflight(bin_dir)
    assert result.returncode != 0
    assert "Maven (mvn) is required" in result.stderr


def test_missing_python_311_is_named(bin_dir: Path) -> None:
    fake_tool(bin_dir, "python3", "echo Python 3.12.1")
    result = preflight(bin_dir)
    assert result.returncode != 0
    assert "Python 3.11 is required" in result.stderr


def test_not_root_without_sudo_names_the_packages(bin_dir: Path) -> None:
    (bin_dir / "id").unlink()
    fake_tool(bin_dir, "id", "echo 1000")
    (bin_dir / "dpkg-query").unlink()
    fake_tool(bin_dir, "dpkg-query", "exit 1")  # nothing installed
    result = preflight(bin_dir)
    assert result.returncode != 0
    assert "not root and no sudo" in result.stderr
    assert "mariadb-server" in result.stderr


def packages_to_install(bin_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "/bin/bash",
            "-c",
            f'source {REPO_ROOT}/scripts/lib.sh && preflight_checks && echo "${{APT_PACKAGES[*]}}"',
        ],
        capture_output=True,
        text=True,
        env={"PATH": str(bin_dir), "HOME": str(bin_dir)},
        timeout=30,
    )


def as_root_with_apt(bin_dir: Path) -> None:
    (bin_dir / "id").unlink()
    fake_tool(bin_dir, "id", "echo 0")
    fake_tool(bin_dir, "apt-get", "exit 0")


def test_on_debian_missing_java_and_maven_are_installed_from_apt(bin_dir: Path) -> None:
    as_root_with_apt(bin_dir)
    (bin_dir / "java").unlink()
    (bin_dir / "mvn").unlink()
    result = packages_to_install(bin_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "mariadb-server",
        "mariadb-client",
        "openjdk-17-jdk-headless",
        "maven",
    ]


def test_on_debian_an_old_java_gets_java_17_from_apt(bin_dir: Path) -> None:
    as_root_with_apt(bin_dir)
    fake_tool(bin_dir, "java", 'echo \'openjdk version "11.0.2" 2019-01-15\' >&2')
    result = packages_to_install(bin_dir)
    assert result.returncode == 0, result.stderr
    assert "openjdk-17-jdk-headless" in result.stdout.split()
    assert "maven" not in result.stdout.split()


def test_present_tools_are_not_reinstalled(bin_dir: Path) -> None:
    as_root_with_apt(bin_dir)
    result = packages_to_install(bin_dir)
    assert result.stdout.split() == ["mariadb-server", "mariadb-client"]
