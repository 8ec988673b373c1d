"""Kafka Connect REST: worker health, connector registration and status."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import requests

REQUEST_TIMEOUT = 10.0


class ConnectError(RuntimeError):
    """A Connect worker or connector is unhealthy or rejected a request; the message says why."""


@dataclass(frozen=True)
class ConnectorSpec:
    name: str
    config: dict[str, str]

    @classmethod
    def from_file(cls, path: Path) -> ConnectorSpec:
        try:
            body = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConnectError(f"connector file {path}: {exc}") from exc
        if not isinstance(body, dict) or "name" not in body or "config" not in body:
            raise ConnectError(f"connector file {path}: expected a JSON object {{name, config}}")
        return cls(str(body["name"]), {str(k): str(v) for k, v in body["config"].items()})

    def table_include_list(self) -> list[str]:
        raw = self.config.get("table.include.list", "")
        return [t.strip() for t in raw.split(",") if t.strip()]


@dataclass(frozen=True)
class ConnectorStatus:
    name: str
    state: str
    worker_id: str
    tasks: tuple[tuple[int, str, str, str], ...]  # (id, state, worker_id, trace first line)

    @property
    def running(self) -> bool:
        return (
            self.state == "RUNNING"
            and len(self.tasks) > 0
            and all(t[1] == "RUNNING" for t in self.tasks)
        )

    def failure(self) -> str | None:
        for task_id, state, _, trace in self.tasks:
            if state == "FAILED":
                return f"task {task_id} FAILED: {trace}"
        if self.state == "FAILED":
            return "connector FAILED"
        return None


def _first_line(trace: str) -> str:
    # Connect's traces start with the exception class and message; the useful part is there.
    lines = [ln.strip() for ln in trace.splitlines() if ln.strip()]
    caused = [ln for ln in lines if ln.startswith("Caused by:")]
    head = lines[0] if lines else ""
    return head + (f" ({caused[-1]})" if caused else "")


class ConnectClient:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return requests.request(method, self.url + path, timeout=REQUEST_TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            raise ConnectError(
                f"Connect worker {self.url} does not answer: {type(exc).__name__}"
            ) from exc

    def worker_info(self) -> dict[str, Any]:
        resp = self._request("GET", "/")
        if resp.status_code != 200:
            raise ConnectError(f"Connect worker {self.url}: HTTP {resp.status_code}")
        return cast(dict[str, Any], resp.json())

    def plugins(self) -> list[str]:
        resp = self._request("GET", "/connector-plugins")
        if resp.status_code != 200:
            raise ConnectError(f"Connect worker {self.url} plugins: HTTP {resp.status_code}")
        return [str(p["class"]) for p in resp.json()]

    def validate(self, spec: ConnectorSpec) -> list[str]:
        """Connect's own validation of a config: the list of error messages (empty when valid)."""
        cls = spec.config.get("connector.class", "")
        plugin = cls.rsplit(".", 1)[-1]
        resp = self._request(
            "PUT",
            f"/connector-plugins/{plugin}/config/validate",
            json={**spec.config, "name": spec.name},
        )
        if resp.status_code != 200:
            raise ConnectError(
                f"validating {spec.name}: HTTP {resp.status_code}: {resp.text[:300]}"
            )
        errors: list[str] = []
        for item in resp.json().get("configs", []):
            value = item.get("value", {})
            for message in value.get("errors", []):
                errors.append(f"{value.get('name')}: {message}")
        return errors

    def put_config(self, spec: ConnectorSpec) -> bool:
        """Create or update the connector; True when it was created, False when updated."""
        resp = self._request("PUT", f"/connectors/{spec.name}/config", json=spec.config)
        if resp.status_code not in (200, 201):
            try:
                message = resp.json().get("message", resp.text)
            except ValueError:
                message = resp.text
            raise ConnectError(f"Connect rejected connector {spec.name}: {message}")
        return resp.status_code == 201

    def get_config(self, name: str) -> dict[str, str] | None:
        resp = self._request("GET", f"/connectors/{name}/config")
        if resp.status_code == 404:
            return None
        return {str(k): str(v) for k, v in resp.json().items()}

    def status(self, name: str) -> ConnectorStatus | None:
        resp = self._request("GET", f"/connectors/{name}/status")
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise ConnectError(f"connector {name} status: HTTP {resp.status_code}")
        body = resp.json()
        tasks = tuple(
            (
                int(t["id"]),
                str(t["state"]),
                str(t.get("worker_id", "")),
                _first_line(t.get("trace", "")),
            )
            for t in body.get("tasks", [])
        )
        conn = body["connector"]
        return ConnectorStatus(name, str(conn["state"]), str(conn.get("worker_id", "")), tasks)

    def restart(self, name: str) -> None:
        self._request("POST", f"/connectors/{name}/restart?includeTasks=true&onlyFailed=true")

    def delete(self, name: str) -> None:
        self._request("DELETE", f"/connectors/{name}")

    def lifecycle(self, name: str, action: str) -> None:
        """``stop`` or ``resume`` the connector (Connect's REST lifecycle endpoints)."""
        resp = self._request("PUT", f"/connectors/{name}/{action}")
        if resp.status_code not in (200, 202, 204):
            raise ConnectError(f"{action} connector {name}: HTTP {resp.status_code}: {resp.text}")

    def reset_offsets(self, name: str) -> None:
        """Forget the source offsets of a STOPPED connector: it snapshots again on resume."""
        resp = self._request("DELETE", f"/connectors/{name}/offsets")
        if resp.status_code != 200:
            raise ConnectError(f"reset offsets of {name}: HTTP {resp.status_code}: {resp.text}")


def unmatched_tables(include_list: list[str], existing: list[str]) -> list[str]:
    """Entries of Debezium's table.include.list (anchored regexes) that match no table."""
    unmatched = []
    for entry in include_list:
        try:
            pattern = re.compile(entry)
        except re.error:
            unmatched.append(entry)
            continue
        if not any(pattern.fullmatch(table) for table in existing):
            unmatched.append(entry)
    return unmatched
