"""Every `orderstream` command docker-compose.yml runs is one the CLI accepts."""

from __future__ import annotations

import pytest

from orderstream.cli import build_parser
from tests.unit.compose import compose_file as cf

SERVICES: dict[str, cf.Service] = cf.load(cf.COMPOSE_FILE, None, cf.SCALE_FILE)["services"]


def orderstream_arguments(command: list[str]) -> list[str] | None:
    """The CLI arguments of ``orderstream ...`` or ``python -m orderstream ...``, else None."""
    if command[:1] == ["orderstream"]:
        return command[1:]
    if command[:3] == ["python", "-m", "orderstream"]:
        return command[3:]
    return None


CLI_SERVICES = sorted(
    name for name, svc in SERVICES.items() if orderstream_arguments(cf.command(svc)) is not None
)


def test_the_project_services_run_the_cli() -> None:
    assert {"kafka-setup", "connector-setup", "loadgen", "alert-receiver"} <= set(CLI_SERVICES)


@pytest.mark.parametrize("name", CLI_SERVICES)
def test_the_command_parses(name: str) -> None:
    args = orderstream_arguments(cf.command(SERVICES[name]))
    assert args is not None
    parsed = build_parser().parse_args(args)
    assert callable(parsed.func)


def test_connector_setup_talks_to_the_named_worker() -> None:
    args = orderstream_arguments(cf.command(SERVICES["connector-setup"]))
    assert args is not None
    assert build_parser().parse_args(args).url == "http://connect-1:8083"
