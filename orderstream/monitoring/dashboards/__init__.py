"""Grafana dashboards built as code with grafana-foundation-sdk.

``python -m orderstream.monitoring.dashboards`` writes the JSON into grafana/dashboards/
(commit it); ``--check`` fails when the committed JSON differs from what the code generates.
"""

from __future__ import annotations

from collections.abc import Callable

from orderstream.monitoring.dashboards import connect, kafka, mariadb, pipeline
from orderstream.monitoring.dashboards.common import Board
from orderstream.settings import REPO_ROOT

DASHBOARDS_DIR = REPO_ROOT / "grafana" / "dashboards"

#: file name under grafana/dashboards -> builder
BOARDS: dict[str, Callable[[], Board]] = {
    "pipeline.json": pipeline.build,
    "kafka.json": kafka.build,
    "connect.json": connect.build,
    "mariadb.json": mariadb.build,
}


def generate() -> dict[str, str]:
    """File name -> dashboard JSON text, as the code builds it now."""
    return {name: build().json() for name, build in BOARDS.items()}
