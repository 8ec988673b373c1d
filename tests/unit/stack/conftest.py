from __future__ import annotations

from pathlib import Path

import pytest

from orderstream.settings import Settings
from orderstream.stack.components import StackContext
from orderstream.stack.layout import Layout
from orderstream.stack.supervisor import Supervisor


def make_context(
    env: dict[str, str] | None = None, root: Path = Path("/rt"), repo: Path = Path("/repo")
) -> StackContext:
    """Components' context for a runtime at /rt and a repository at /repo (nothing exists)."""
    env = {"ORDERSTREAM_RUNTIME_DIR": str(root), **(env or {})}
    layout = Layout(root, repo=repo)
    return StackContext(
        Settings.from_env(env),
        layout,
        Supervisor(layout.supervisor_socket),
        env=env,
        python="/venv/bin/python",
        run_as="root",
    )


@pytest.fixture
def ctx() -> StackContext:
    return make_context()


@pytest.fixture
def settings(ctx: StackContext) -> Settings:
    return ctx.settings


@pytest.fixture
def layout(ctx: StackContext) -> Layout:
    return ctx.layout
