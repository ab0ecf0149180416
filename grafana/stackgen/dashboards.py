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
    DataSourceRef,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from .model import Board, Kind, Panel

__all__ = ["JAEGER_UID", "PROMETHEUS_UID", "render", "to_json"]

#: The uids the provisioned datasources carry (grafana/provisioning/datasources).
PROMETHEUS_UID = "prometheus"
JAEGER_UID = "jaeger"
PROMETHEUS = DataSourceRef(type_val="prometheus", uid=PROMETHEUS_UID)

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
    for ref_id, query in zip(_REF_IDS, panel.queries, strict=False):
        target = gp.Dataquery().ref_id(ref_id).expr(query.expr).datasource(PROMETHEUS)
        if query.legend:
            target = target.legend_format(query.legend)
        if panel.kind is Kind.TIMESERIES:
            target = target.range().exemplar(True)
        else:
            target = target.instant().format(
                PromQueryFormat.TABLE if panel.kind is Kind.TABLE else PromQueryFormat.TIME_SERIES
            )
        builder = builder.with_target(target)
    return builder


def render(board: Board) -> dict[str, Any]:
    """The dashboard JSON (as a dict) of ``board``."""
    builder = (
        gd.Dashboard(board.title)
        .uid(board.uid)
        .description(board.description)
        .tags(["otel-agents"])
        .editable()
        .refresh("30s")
        .time("now-1h", "now")
        .timezone("browser")
    )
    for variable in board.variables:
        builder = builder.with_variable(
            gd.QueryVariable(variable.name)
            .label(variable.label)
            .datasource(PROMETHEUS)
            .query({"query": variable.query, "refId": f"{variable.name}-values"})
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(VariableSort.ALPHABETICAL_ASC)
            .multi(True)
            .include_all(True)
            .all_value(".+")
        )
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
