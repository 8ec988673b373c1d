"""What every stack component says about itself, and what it is given to say it."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from orderstream.poll import NotReady, wait_for
from orderstream.settings import Settings
from orderstream.stack.layout import Layout
from orderstream.stack.supervisor import Program, Supervisor

__all__ = ["Check", "Component", "File", "Port", "Program", "StackContext", "StackError"]


class StackError(RuntimeError):
    """The stack cannot be started or stopped; the message names the component and the cause."""


@dataclass(frozen=True)
class File:
    """A rendered file: the component's configuration under ``<runtime>/conf``."""

    path: Path
    text: str
    mode: int = 0o644  # 0o600 for a file that holds a secret


@dataclass(frozen=True)
class Port:
    """A port a program of the component listens on, and the variable that chooses it."""

    port: int
    setting: str
    program: str


@dataclass(frozen=True)
class Check:
    """One line of ``orderstream status``: a component (or part of one) and what was found."""

    component: str
    healthy: bool
    detail: str


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """Something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _current_user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


@dataclass(frozen=True)
class StackContext:
    """What components are built from: settings, paths, the supervisor, the environment."""

    settings: Settings
    layout: Layout
    supervisor: Supervisor
    #: The environment a component reads its own knobs from (``orderstream.knobs`` readers).
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    python: str = sys.executable
    run_as: str = field(default_factory=_current_user)

    @classmethod
    def of(cls, settings: Settings, env: Mapping[str, str] | None = None) -> StackContext:
        layout = Layout(settings.runtime_dir)
        return cls(
            settings,
            layout,
            Supervisor(layout.supervisor_socket),
            env=dict(os.environ if env is None else env),
        )

    def say(self, message: str) -> None:
        print(f"orderstream: {message}", flush=True)

    def tool(self, name: str) -> str:
        """Absolute path of a system binary (MariaDB's live in /usr/sbin on Debian)."""
        path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
        if path is None:
            raise StackError(f"{name} is not installed: run scripts/start.sh, which installs it")
        return path

    def log_of(self, program: str) -> Path:
        return self.layout.logs / f"{program}.log"

    def wait_running(self, program: str, timeout: float) -> None:
        """Wait until supervisor says RUNNING: the process outlived its ``startsecs``."""

        def running() -> None:
            state = self.supervisor.program(program)
            if state.state == "FATAL":  # supervisor gave up restarting it
                raise StackError(f"{program} {state.state}: see {self.log_of(program)}")
            if not state.running:
                raise NotReady(f"{program} {state.state}")

        wait_for(program, running, timeout)


class Component:
    """A part of the native stack. Subclasses override the hooks they need; every default
    does nothing. ``orderstream stack start`` calls, for each component in list order:
    ``check_installed``, ``ports`` (clash check), ``files`` and ``programs`` (rendered),
    then ``prepare``, starts ``programs``, ``wait_ready``, ``after_start``. ``stop`` stops the
    programs in reverse list order; ``status`` runs ``checks``; ``--purge`` deletes
    ``purge_paths``."""

    #: Short name, used in messages (and usually the supervisor program's name).
    name: ClassVar[str]

    def __init__(self, ctx: StackContext) -> None:
        self.ctx = ctx

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def layout(self) -> Layout:
        return self.ctx.layout

    def programs(self) -> list[Program]:
        """Its supervisor programs (started together, stopped together)."""
        return []

    def files(self) -> list[File]:
        """Its rendered configuration files."""
        return []

    def ports(self) -> list[Port]:
        """The ports its programs listen on (checked for clashes and for squatters)."""
        return []

    def check_installed(self) -> None:
        """Raise :class:`StackError` naming what is missing and how to install it."""

    def wanted(self) -> bool:
        """False to keep it stopped (e.g. the demo load at rate 0)."""
        return True

    def prepare(self) -> None:
        """One-time initialisation before its programs start (format storage, init a DB)."""

    def wait_ready(self) -> None:
        """Block until it is ready for the next component; raise when it cannot become so."""

    def after_start(self) -> None:
        """Work once it is ready: create topics, register a connector, apply SQL."""

    def checks(self) -> list[Check]:
        """``orderstream status`` lines: health checked for real, never taken on trust."""
        return []

    def where(self) -> list[tuple[str, str]]:
        """``(what, address)`` lines for ``orderstream stack info`` (where to look)."""
        return []

    def purge_paths(self) -> list[Path]:
        """Its state, deleted by ``orderstream stack stop --purge``."""
        return []
