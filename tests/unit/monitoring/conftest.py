from __future__ import annotations

from pathlib import Path

import pytest

from orderstream.monitoring import tools
from orderstream.settings import Settings


def _tool(name: str) -> Path:
    return tools.binary(Settings.from_env().runtime_dir, name)


@pytest.fixture(scope="session")
def promtool() -> Path:
    return _tool("promtool")


@pytest.fixture(scope="session")
def amtool() -> Path:
    return _tool("amtool")
