"""A small client of the Prometheus and Alertmanager HTTP APIs (status checks and tests)."""

from __future__ import annotations

from typing import Any

import requests


class MonitoringApiError(RuntimeError):
    """Prometheus or Alertmanager did not answer, or refused a query; the message says which."""


class PrometheusClient:
    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            resp = requests.get(f"{self.url}{path}", params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise MonitoringApiError(f"Prometheus at {self.url} does not answer: {exc}") from None
        try:
            body = resp.json()
        except ValueError:
            raise MonitoringApiError(
                f"Prometheus at {self.url}{path} answered {resp.status_code}: {resp.text[:200]}"
            ) from None
        if body.get("status") != "success":
            raise MonitoringApiError(
                f"Prometheus refused {params or path}: {body.get('errorType')}: {body.get('error')}"
            )
        return body["data"]

    def ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/-/ready", timeout=self.timeout).status_code == 200
        except requests.RequestException:
            return False

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; the result vector (raises on a parse or evaluation error)."""
        data = self._get("/api/v1/query", {"query": expr})
        result = data["result"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": result}]
        return list(result)

    def targets(self) -> list[dict[str, Any]]:
        return list(self._get("/api/v1/targets", {"state": "active"})["activeTargets"])

    def rule_groups(self) -> list[dict[str, Any]]:
        return list(self._get("/api/v1/rules")["groups"])

    def alerts(self) -> list[dict[str, Any]]:
        return list(self._get("/api/v1/alerts")["alerts"])

    def label_values(self, label: str, match: str | None = None) -> list[str]:
        params = {"match[]": match} if match else None
        return [str(v) for v in self._get(f"/api/v1/label/{label}/values", params)]

    def reload(self) -> None:
        """Re-read the configuration and rule files (needs --web.enable-lifecycle)."""
        try:
            resp = requests.post(f"{self.url}/-/reload", timeout=30)
        except requests.RequestException as exc:
            raise MonitoringApiError(f"Prometheus at {self.url} does not answer: {exc}") from None
        if resp.status_code != 200:
            raise MonitoringApiError(f"Prometheus refused to reload: {resp.text.strip()}")


def alertmanager_ready(url: str, timeout: float = 5.0) -> bool:
    try:
        return requests.get(f"{url.rstrip('/')}/-/ready", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def alertmanager_reload(url: str) -> None:
    try:
        resp = requests.post(f"{url.rstrip('/')}/-/reload", timeout=30)
    except requests.RequestException as exc:
        raise MonitoringApiError(f"Alertmanager at {url} does not answer: {exc}") from None
    if resp.status_code != 200:
        raise MonitoringApiError(f"Alertmanager refused to reload: {resp.text.strip()}")
