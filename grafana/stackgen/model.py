"""What a dashboard holds, as plain data: rows of panels, each panel with its PromQL queries.

The contents (:mod:`.boards_agents`, :mod:`.boards_stack`) are written in these terms and
:mod:`.dashboards` renders them with Grafana's foundation SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "Board",
    "Kind",
    "Link",
    "Panel",
    "Query",
    "Row",
    "Variable",
]


class Kind(StrEnum):
    """The Grafana panel type."""

    STAT = "stat"
    TIMESERIES = "timeseries"
    TABLE = "table"


@dataclass(frozen=True)
class Query:
    """One PromQL target of a panel."""

    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Link:
    """A link from a panel: ``data`` links open from a point (``${__field.labels.x}`` works)."""

    title: str
    url: str
    data: bool = False


@dataclass(frozen=True)
class Panel:
    """One panel: what it shows (``description`` answers "what question is this?")."""

    title: str
    kind: Kind
    queries: tuple[Query, ...]
    unit: str = "short"
    description: str = ""
    links: tuple[Link, ...] = ()
    #: ``(from value, colour)`` steps, lowest first (the first step's value is ignored).
    thresholds: tuple[tuple[float, str], ...] = ()
    min: float | None = None
    max: float | None = None
    #: A template variable to repeat this panel for (one panel per selected value).
    repeat: str = ""


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Variable:
    """A query template variable: the label values of one series, multi-select with All."""

    name: str
    label: str
    series: str
    label_name: str
    #: What "All" matches; ``None`` lets Grafana list the values it found (a chained variable
    #: then narrows the others, e.g. services of one environment).
    all_value: str | None = ".+"

    @property
    def query(self) -> str:
        return f"label_values({self.series}, {self.label_name})"


@dataclass(frozen=True)
class Board:
    """One dashboard file."""

    uid: str
    title: str
    description: str
    rows: tuple[Row, ...]
    variables: tuple[Variable, ...] = field(default=())
    #: Tags besides ``otel-agents`` (every board carries it: the cross-dashboard links use it).
    tags: tuple[str, ...] = ()

    @property
    def file_name(self) -> str:
        return f"{self.uid}.json"

    def panels(self) -> list[Panel]:
        return [panel for row in self.rows for panel in row.panels]
