"""Every query of the generated dashboards, made runnable against Prometheus.

Grafana expands macros (``$__rate_interval``...) and template variables before it sends a
query; this module does the same with fixed values so tests can parse each query offline
(promtool) and evaluate it against a live Prometheus. ``label_values(metric, label)`` is
Grafana syntax, not PromQL: :func:`label_values_call` splits it for the label-values API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: What Grafana would put for its macros at a 1-hour range and 15 s scrape interval.
MACROS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}
#: A multi-value variable set to All (``allValue: .*``).
ALL = ".*"
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.+?)\s*,\s*)?(\w+)\s*\)\s*$")


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    ref_id: str
    expr: str

    @property
    def where(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref_id}"


@dataclass(frozen=True)
class VariableQuery:
    dashboard: str
    name: str
    query: str


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # rows may hold their panels


def panel_queries(dashboard: Mapping[str, Any]) -> list[PanelQuery]:
    title = str(dashboard.get("title", "?"))
    return [
        PanelQuery(title, str(panel.get("title", "?")), str(t.get("refId", "?")), str(t["expr"]))
        for panel in _panels(list(dashboard.get("panels", [])))
        for t in panel.get("targets", [])
        if t.get("expr")
    ]


def variable_queries(dashboard: Mapping[str, Any]) -> list[VariableQuery]:
    title = str(dashboard.get("title", "?"))
    out = []
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var.get("query")
        if isinstance(query, dict):
            query = query.get("query", "")
        out.append(VariableQuery(title, str(var["name"]), str(query)))
    return out


def substitute(expr: str, variables: Mapping[str, str] | None = None) -> str:
    """Replace Grafana macros and ``$var``/``${var}``/``[[var]]`` (unknown variables: All)."""
    values = {**MACROS, **(variables or {})}

    def value(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        return values.get(name, ALL)

    return _VARIABLE.sub(value, expr)


def label_values_call(query: str) -> tuple[str | None, str]:
    """``label_values(selector, label)`` -> (selector or None, label); ValueError otherwise."""
    match = _LABEL_VALUES.match(query)
    if not match:
        raise ValueError(f"not a label_values(...) query: {query!r}")
    return match.group(1), match.group(2)


def load_dashboards(directory: Path) -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}
