"""supervisord: its configuration (one program per process of a component) and a small typed
client for its XML-RPC interface over its unix socket."""

from __future__ import annotations

import http.client
import shlex
import threading
import xmlrpc.client
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from supervisor.xmlrpc import SupervisorTransport

from orderstream.knobs import SettingsError
from orderstream.stack import render
from orderstream.stack.layout import Layout


@dataclass(frozen=True)
class Program:
    """One supervised process of a component. Every program is started on demand (autostart
    off) by ``orderstream stack start``, in the order of the component list."""

    name: str
    command: Sequence[str]
    environment: Mapping[str, str] = field(default_factory=dict)
    #: Seconds a process must stay up to count as started (a crash at start-up is a failure).
    startsecs: int = 3
    stopsignal: str = "TERM"
    stopwaitsecs: int = 30


def _escape(value: str) -> str:
    """supervisord expands ``%(name)s`` in its values: a literal ``%`` is written ``%%``."""
    return value.replace("%", "%%")


def _environment(env: Mapping[str, str]) -> str:
    """supervisor's ``KEY="value",...`` list. supervisor splits it with a non-POSIX shlex (no
    backslash escapes) and strips quote characters from both ends of each value: a value is
    quoted with a quote character it does not contain, and one that cannot survive is refused,
    naming its variable."""
    parts = []
    for key, value in env.items():
        quote = '"' if '"' not in value else "'"
        if quote in value or value[:1] in {"'", '"'} or value[-1:] in {"'", '"'} or "\n" in value:
            raise SettingsError(
                f"{key}: supervisord cannot pass a value that holds both quote characters, "
                "begins or ends with a quote, or spans lines"
            )
        parts.append(f"{key}={quote}{value}{quote}")
    return _escape(",".join(parts))


def program_section(program: Program, layout: Layout, priority: int) -> dict[str, render.Value]:
    section: dict[str, render.Value] = {
        "command": _escape(shlex.join(program.command)),
        "directory": str(layout.root),
        "priority": priority,
        "autostart": False,
        "autorestart": True,
        "startsecs": program.startsecs,
        "startretries": 5,
        "stopsignal": program.stopsignal,
        "stopwaitsecs": program.stopwaitsecs,
        "stopasgroup": True,
        "killasgroup": True,
        "redirect_stderr": True,
        "stdout_logfile": _escape(str(layout.logs / f"{program.name}.log")),
        "stdout_logfile_maxbytes": "20MB",
        "stdout_logfile_backups": 3,
    }
    if program.environment:
        section["environment"] = _environment(program.environment)
    return section


def supervisord_conf(layout: Layout, groups: Sequence[Sequence[Program]]) -> str:
    """supervisord.conf: ``groups`` are the programs of each component, in start order."""
    sections: dict[str, Mapping[str, render.Value | None]] = {
        "unix_http_server": {"file": str(layout.supervisor_socket), "chmod": "0700"},
        "supervisord": {
            "logfile": str(layout.logs / "supervisord.log"),
            "logfile_maxbytes": "10MB",
            "logfile_backups": 3,
            "pidfile": str(layout.root / "supervisord.pid"),
            "childlogdir": str(layout.logs),
            "directory": str(layout.root),
            "minfds": 16384,
        },
        "rpcinterface:supervisor": {
            "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"
        },
        "supervisorctl": {"serverurl": f"unix://{layout.supervisor_socket}"},
    }
    for rank, programs in enumerate(groups, start=1):
        for program in programs:
            sections[f"program:{program.name}"] = program_section(program, layout, 10 * rank)
    return render.ini(sections)


class SupervisorUnavailable(RuntimeError):
    """supervisord is not running (no socket, or it does not answer)."""


@dataclass(frozen=True)
class ProgramState:
    name: str
    state: str  # STOPPED, STARTING, RUNNING, BACKOFF, STOPPING, EXITED, FATAL, UNKNOWN
    pid: int
    description: str

    @property
    def running(self) -> bool:
        return self.state == "RUNNING"


class Supervisor:
    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self._transport = SupervisorTransport(None, None, f"unix://{socket_path}")
        self._proxy: Any = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=self._transport)
        # One HTTP connection: status probes run in threads, and a second request sent on
        # it before the first is answered fails (http.client's "Request-sent").
        self._lock = threading.Lock()

    def _call(self, method: str, *args: object) -> object:
        if not self.socket_path.exists():
            raise SupervisorUnavailable(
                f"supervisord is not running (no socket {self.socket_path})"
            )
        with self._lock:
            try:
                return cast(object, getattr(self._proxy.supervisor, method)(*args))
            except (ConnectionError, FileNotFoundError, http.client.HTTPException) as exc:
                # refused, reset while it shuts down, or gone: the next call opens a new one
                self._transport.close()
                raise SupervisorUnavailable(
                    f"supervisord does not answer on {self.socket_path}: {exc}"
                ) from exc

    def is_running(self) -> bool:
        try:
            return self._call("getState") is not None
        except SupervisorUnavailable:
            return False

    def programs(self) -> dict[str, ProgramState]:
        infos = cast(list[dict[str, Any]], self._call("getAllProcessInfo"))
        return {
            i["name"]: ProgramState(i["name"], i["statename"], int(i["pid"]), i["description"])
            for i in infos
        }

    def program(self, name: str) -> ProgramState:
        i = cast(dict[str, Any], self._call("getProcessInfo", name))
        return ProgramState(i["name"], i["statename"], int(i["pid"]), i["description"])

    def start(self, name: str, wait: bool = True) -> None:
        try:
            self._call("startProcess", name, wait)
        except xmlrpc.client.Fault as fault:
            if "ALREADY_STARTED" not in fault.faultString:
                raise

    def stop(self, name: str, wait: bool = True) -> None:
        try:
            self._call("stopProcess", name, wait)
        except xmlrpc.client.Fault as fault:
            if "NOT_RUNNING" not in fault.faultString:
                raise

    def signal(self, name: str, signal: str) -> None:
        self._call("signalProcess", name, signal)

    def update(self) -> tuple[list[str], list[str], list[str]]:
        """Apply a changed config file like `supervisorctl update`: (added, changed, removed).

        Changed and removed programs are stopped first; added and changed ones are left
        stopped (autostart is off), for the caller to start in dependency order.
        """
        result = cast(list[list[list[str]]], self._call("reloadConfig"))
        added, changed, removed = result[0]
        for name in [*removed, *changed]:
            self._call("stopProcessGroup", name, True)
            self._call("removeProcessGroup", name)
        for name in [*changed, *added]:
            self._call("addProcessGroup", name)
        return added, changed, removed

    def shutdown(self) -> None:
        self._call("shutdown")
