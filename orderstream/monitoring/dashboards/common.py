"""Shared building blocks of the dashboards (grafana-foundation-sdk builders).

Every panel queries the Prometheus datasource provisioned with uid ``prometheus``
(grafana/provisioning/datasources/prometheus.yml). Panel ids are assigned in order, so the
generated JSON is stable from one run to the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog import variants
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableRefresh,
    VariableSort,
)

DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")
TAGS = ["orderstream"]


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = "__auto"


def _targets(queries: Sequence[Query]) -> list[Builder[variants.Dataquery]]:
    return [
        prometheus.Dataquery()
        .expr(q.expr)
        .legend_format(q.legend)
        .ref_id(chr(ord("A") + i))
        .datasource(DATASOURCE)
        for i, q in enumerate(queries)
    ]


def _legend() -> common_builders.VizLegendOptions:
    return (
        common_builders.VizLegendOptions()
        .show_legend(True)
        .display_mode(common.LegendDisplayMode.LIST)
        .placement(common.LegendPlacement.BOTTOM)
    )


def _thresholds(steps: Sequence[tuple[float | None, str]]) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=v, color=c) for v, c in steps])
    )


@dataclass
class Board:
    """A dashboard being built: rows of panels, each panel with a stable id."""

    title: str
    uid: str
    description: str
    builder: dash.Dashboard = field(init=False)
    _next_id: int = field(default=1, init=False)

    def __post_init__(self) -> None:
        self.builder = (
            dash.Dashboard(self.title)
            .uid(self.uid)
            .description(self.description)
            .tags(TAGS)
            .refresh("30s")
            .time("now-1h", "now")
            .timezone("utc")
            .tooltip(DashboardCursorSync.CROSSHAIR)
            .editable()
        )

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def variable(self, name: str, label: str, query: str) -> Board:
        """A multi-value query variable with an All option (``.*``)."""
        self.builder.with_variable(
            dash.QueryVariable(name)
            .label(label)
            .query(query)
            .datasource(DATASOURCE)
            .multi(True)
            .include_all(True)
            .all_value(".*")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(VariableSort.ALPHABETICAL_ASC)
        )
        return self

    def row(self, title: str) -> Board:
        self.builder.with_row(dash.Row(title).id(self._id()))
        return self

    def timeseries(
        self,
        title: str,
        description: str,
        queries: Sequence[Query],
        unit: str = "short",
        width: int = 12,
        height: int = 8,
        stacked: bool = False,
        bars: bool = False,
    ) -> Board:
        panel = (
            timeseries.Panel()
            .id(self._id())
            .title(title)
            .description(description)
            .datasource(DATASOURCE)
            .targets(_targets(queries))
            .unit(unit)
            .span(width)
            .height(height)
            .legend(_legend())
            .fill_opacity(20 if stacked or bars else 10)
        )
        if stacked:
            panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
        if bars:
            panel.draw_style(common.GraphDrawStyle.BARS)
        self.builder.with_panel(panel)
        return self

    def stat(
        self,
        title: str,
        description: str,
        queries: Sequence[Query],
        unit: str = "short",
        width: int = 4,
        height: int = 4,
        thresholds: Sequence[tuple[float | None, str]] = ((None, "green"),),
        mappings: dict[str, str] | None = None,
        show_name: bool = False,
    ) -> Board:
        panel = (
            stat.Panel()
            .id(self._id())
            .title(title)
            .description(description)
            .datasource(DATASOURCE)
            .targets(_targets(queries))
            .unit(unit)
            .span(width)
            .height(height)
            .thresholds(_thresholds(thresholds))
            .color_mode(common.BigValueColorMode.BACKGROUND)
            .graph_mode(common.BigValueGraphMode.NONE)
            .text_mode(
                common.BigValueTextMode.VALUE_AND_NAME
                if show_name
                else common.BigValueTextMode.VALUE
            )
            .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        )
        if mappings:
            panel.mappings([ValueMap({k: ValueMappingResult(text=v) for k, v in mappings.items()})])
        self.builder.with_panel(panel)
        return self

    def json(self) -> str:
        return JSONEncoder(sort_keys=True, indent=2).encode(self.builder.build()) + "\n"


# --- expressions used on several boards --------------------------------------------------

RATE = "$__rate_interval"


def rate(selector: str, by: str = "") -> str:
    """``sum [by (...)] (rate(selector[$__rate_interval]))``."""
    group = f" by ({by})" if by else ""
    return f"sum{group} (rate({selector}[{RATE}]))"


def increase(selector: str, by: str = "", window: str = RATE) -> str:
    group = f" by ({by})" if by else ""
    return f"sum{group} (increase({selector}[{window}]))"
