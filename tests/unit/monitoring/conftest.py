from __future__ import annotations

from pathlib import Path

import pytest

from orderstream.monitoring import tools


def _tool(name: str) -> Path:
    return tools.binary(name)


@pytest.fixture(scope="session")
def promtool() -> Path:
    return _tool("promtool")


@pytest.fixture(scope="session")
def amtool() -> Path:
    return _tool("amtool")
