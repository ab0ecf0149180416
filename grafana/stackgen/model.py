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
class Panel:
    """One panel: what it shows (``description`` answers "what question is this?")."""

    title: str
    kind: Kind
    queries: tuple[Query, ...]
    unit: str = "short"
    description: str = ""


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

    @property
    def file_name(self) -> str:
        return f"{self.uid}.json"

    def panels(self) -> list[Panel]:
        return [panel for row in self.rows for panel in row.panels]
