"""docker/mariadb/02-users.sh renders mysql-init/02-users.sql exactly as the native stack does.

The script is run here with bash, as the MariaDB image's entrypoint sources it (its
``docker_process_sql`` and ``mysql_error`` stubbed to capture the SQL), with the environment
docker-compose.yml gives the mariadb service; the native text is
``orderstream.stack.components.mariadb.users_sql`` with the settings read from that environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from orderstream.settings import REPO_ROOT, Settings
from orderstream.stack.components.mariadb import other_users, users_sql
from tests.unit.compose import compose_file as cf

SCRIPT = REPO_ROOT / "docker" / "mariadb" / "02-users.sh"
TEMPLATE = REPO_ROOT / "mysql-init" / "02-users.sql"

HARNESS = """
docker_process_sql() { cat; }
mysql_error() { printf 'mysql_error: %s\\n' "$*" >&2; exit 1; }
set -eo pipefail
. "$1"
"""


def run_script(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash")
    assert bash
    return subprocess.run(
        [bash, "-c", HARNESS, "harness", str(SCRIPT)],
        env={"PATH": os.environ["PATH"], "ORDERSTREAM_USERS_TEMPLATE": str(TEMPLATE), **env},
        capture_output=True,
        text=True,
    )


def mariadb_environment(dotenv: dict[str, str]) -> dict[str, str]:
    return cf.environment(cf.load(cf.COMPOSE_FILE, dotenv)["services"]["mariadb"])


TRICKY = {
    "ORDERSTREAM_DB_APP_PASSWORD": 'it\'s a "quoted" back\\slash & 100%% %(app_user)s',
    "ORDERSTREAM_DB_CDC_PASSWORD": "line\nbreak\r\x1a; DROP USER root; --",
    "ORDERSTREAM_DB_CDC_USER": "cdc_o'user",
}


@pytest.mark.parametrize("overrides", [{}, TRICKY], ids=["defaults", "quotes-and-percents"])
def test_the_script_renders_the_native_users_sql(overrides: dict[str, str]) -> None:
    env = mariadb_environment({**cf.read_env_file(), **overrides})
    result = run_script(env)
    assert result.returncode == 0, result.stderr
    settings = Settings.from_env(env)
    native = users_sql(TEMPLATE.read_text(), settings, other_users(settings, env))
    assert result.stdout.rstrip("\n") == native.rstrip("\n")
    if not overrides:
        assert "%(" not in result.stdout, "a placeholder was left unfilled"


def test_every_placeholder_of_the_template_is_given_by_compose() -> None:
    env = mariadb_environment(cf.read_env_file())
    result = run_script(env)
    assert result.returncode == 0, result.stderr
    for key, value in env.items():
        if key.startswith("ORDERSTREAM_DB_") and key.removeprefix("ORDERSTREAM_DB_").lower() in (
            TEMPLATE.read_text()
        ):
            assert value in result.stdout


def test_a_missing_variable_stops_the_init_naming_it() -> None:
    env = mariadb_environment(cf.read_env_file())
    del env["ORDERSTREAM_DB_CDC_PASSWORD"]
    result = run_script(env)
    assert result.returncode != 0
    assert "ORDERSTREAM_DB_CDC_PASSWORD is not set" in result.stderr


def test_the_script_is_sourced_by_the_image_not_executed() -> None:
    """The entrypoint sources non-executable *.sh, which gives it docker_process_sql."""
    mode = SCRIPT.stat().st_mode
    assert not mode & 0o111, "02-users.sh must not be executable (the entrypoint would run it)"
    tracked = subprocess.run(
        ["git", "ls-files", "-s", str(SCRIPT.relative_to(REPO_ROOT))],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    ).stdout
    assert not tracked or tracked.startswith("100644"), tracked


def test_script_has_no_syntax_errors() -> None:
    result = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
