"""A small typed client for supervisord's XML-RPC interface over its unix socket."""

from __future__ import annotations

import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from supervisor.xmlrpc import SupervisorTransport


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
        transport = SupervisorTransport(None, None, f"unix://{socket_path}")
        self._proxy: Any = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def _call(self, method: str, *args: object) -> object:
        if not self.socket_path.exists():
            raise SupervisorUnavailable(
                f"supervisord is not running (no socket {self.socket_path})"
            )
        try:
            return cast(object, getattr(self._proxy.supervisor, method)(*args))
        except (ConnectionRefusedError, FileNotFoundError) as exc:
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
