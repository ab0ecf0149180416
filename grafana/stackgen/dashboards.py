"""Render :class:`~.model.Board` definitions as Grafana dashboard JSON with the foundation SDK."""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import (
    dashboard as gd,
    prometheus as gp,
    stat,
    table,
    timeseries,
)
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DashboardLinkType,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    VariableOption,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from .model import Board, Kind, Link, Panel
from .scope import (
    DATASOURCE,
    JAEGER_URL,
    JAEGER_URL_DEFAULT,
    SERVICES_BOARD_UID,
    VARIABLES,
    scoped,
)

__all__ = ["JAEGER_UID", "PROMETHEUS_UID", "render", "to_json"]

#: The uids the provisioned datasources carry (grafana/provisioning/datasources).
PROMETHEUS_UID = "prometheus"
JAEGER_UID = "jaeger"
#: Panels and variables query the Prometheus picked in the ``datasource`` variable, so the
#: boards work in any Grafana (README: The bundled stack, "Your own Grafana").
PROMETHEUS = DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE}}}")
TAG = "otel-agents"

#: On every latency panel of the other boards: the same services' latency by operation, whose
#: points open Jaeger's search for that service and operation.
SPAN_LATENCY = Link(
    "Latency by operation (from spans) and its traces",
    f"/d/{SERVICES_BOARD_UID}?${{__url_time_range}}&${{__all_variables}}",
)

_SIZES = {Kind.STAT: (6, 4), Kind.TIMESERIES: (12, 8), Kind.TABLE: (24, 8)}
_REF_IDS = "ABCDEFGHIJ"


def _panel(panel: Panel, panel_id: int) -> Any:
    builder: Any
    if panel.kind is Kind.STAT:
        builder = stat.Panel()
    elif panel.kind is Kind.TABLE:
        builder = table.Panel()
    else:
        builder = timeseries.Panel()
    width, height = _SIZES[panel.kind]
    builder = (
        builder.id(panel_id)
        .title(panel.title)
        .description(panel.description)
        .datasource(PROMETHEUS)
        .unit(panel.unit)
        .span(width)
        .height(height)
    )
    if panel.thresholds:
        steps = [
            Threshold(None if i == 0 else value, colour)
            for i, (value, colour) in enumerate(panel.thresholds)
        ]
        builder = builder.thresholds(
            gd.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)
        )
    if panel.min is not None:
        builder = builder.min(panel.min)
    if panel.max is not None:
        builder = builder.max(panel.max)
    if panel.repeat:
        builder = builder.repeat(panel.repeat).repeat_direction("h")
    links = panel.links
    if any(q.expr.startswith("histogram_quantile") for q in panel.queries) and not links:
        links = (SPAN_LATENCY,)
    panel_links = [_link(link) for link in links if not link.data]
    data_links = [_link(link) for link in links if link.data]
    if panel_links:
        builder = builder.links(panel_links)
    if data_links:
        builder = builder.data_links(data_links)
    for ref_id, query in zip(_REF_IDS, panel.queries, strict=False):
        expr = scoped(query.expr)
        target = gp.Dataquery().ref_id(ref_id).expr(expr).datasource(PROMETHEUS)
        if query.legend:
            target = target.legend_format(query.legend)
        if panel.kind is Kind.TIMESERIES:
            # Exemplars only where the series carry them: histogram buckets (the Collector's
            # exporter attaches trace ids to them; counters and gauges here have none).
            target = target.range().exemplar("_bucket" in expr)
        else:
            target = target.instant().format(
                PromQueryFormat.TABLE if panel.kind is Kind.TABLE else PromQueryFormat.TIME_SERIES
            )
        builder = builder.with_target(target)
    return builder


def _link(link: Link) -> Any:
    return (
        gd.DashboardLink(link.title)
        .type(DashboardLinkType.LINK)
        .url(link.url)
        .target_blank(True)
        .keep_time(not link.data)
        .include_vars(not link.data)
    )


def render(board: Board) -> dict[str, Any]:
    """The dashboard JSON (as a dict) of ``board``."""
    builder = (
        gd.Dashboard(board.title)
        .uid(board.uid)
        .description(board.description)
        .tags([TAG, *board.tags])
        .editable()
        .refresh("30s")
        .time("now-1h", "now")
        .timezone("browser")
        .links(
            [
                gd.DashboardLink("otel-agents dashboards")
                .type(DashboardLinkType.DASHBOARDS)
                .tags([TAG])
                .as_dropdown(True)
                .keep_time(True)
                .include_vars(True)
            ]
        )
        .with_variable(gd.DatasourceVariable(DATASOURCE).label("Prometheus").type("prometheus"))
        .with_variable(
            gd.TextBoxVariable(JAEGER_URL)
            .label("Jaeger UI")
            .default_value(JAEGER_URL_DEFAULT)
            .current(VariableOption(text=JAEGER_URL_DEFAULT, value=JAEGER_URL_DEFAULT))
        )
    )
    for variable in (*VARIABLES, *board.variables):
        query = (
            gd.QueryVariable(variable.name)
            .label(variable.label)
            .datasource(PROMETHEUS)
            .query({"query": scoped(variable.query), "refId": f"{variable.name}-values"})
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(VariableSort.ALPHABETICAL_ASC)
            .multi(True)
            .include_all(True)
        )
        if variable.all_value is not None:
            query = query.all_value(variable.all_value)
        builder = builder.with_variable(query)
    panel_id = 1
    for row in board.rows:
        builder = builder.with_row(gd.Row(row.title).id(panel_id))
        panel_id += 1
        for panel in row.panels:
            builder = builder.with_panel(_panel(panel, panel_id))
            panel_id += 1
    rendered: dict[str, Any] = json.loads(JSONEncoder().encode(builder.build()))
    return rendered


def to_json(board: Board) -> str:
    """The file contents of ``board``: stable key order, two-space indent, final newline."""
    return json.dumps(render(board), indent=2, sort_keys=True) + "\n"
