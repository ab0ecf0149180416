"""Every PromQL query of every panel of dashboard JSON files, ready for ``/api/v1/query``.

Read from the JSON (what Grafana provisions), not from the definitions that produced it, so the
end-to-end proof checks exactly what users see.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ALL_LISTED", "BUILTIN_VARIABLES", "PanelQuery", "dashboard_queries", "substitute"]

#: Grafana's own variables in our queries, and the value the e2e proof gives them.
BUILTIN_VARIABLES = {"__rate_interval": "1m"}


@dataclass(frozen=True)
class PanelQuery:
    """One query of one panel, template variables substituted."""

    dashboard: str
    panel: str
    ref_id: str
    expr: str


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Replace ``${name}`` and ``$name`` for every name in ``values`` (longest names first)."""
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace(f"${{{name}}}", values[name]).replace(f"${name}", values[name])
    return expr


#: What "All" stands for in a variable without an ``allValue``: Grafana sends the regex of
#: every value it listed; the proofs match every value instead.
ALL_LISTED = ".+"


def _variables(dashboard: Mapping[str, Any]) -> dict[str, str]:
    """Each template variable at its "All" value (a regex), or its first option."""
    values = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        value = None
        if variable.get("includeAll"):
            value = variable.get("allValue") or ALL_LISTED
        if value is None:
            options = variable.get("options") or [{}]
            value = str(options[0].get("value", ""))
        values[variable["name"]] = value
    return values


def _panels(panels: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # collapsed rows nest their panels


def dashboard_queries(
    paths: Iterable[Path],
    variables: Mapping[str, str] | None = None,
    *,
    without_tag: str | None = None,
) -> list[PanelQuery]:
    """Every panel query of the dashboard files ``paths``, variables substituted.

    Args:
        paths: Dashboard JSON files.
        variables: Values that win over each dashboard's "All" value and over
            :data:`BUILTIN_VARIABLES` (for example ``{"agent": "planner"}``).
        without_tag: Leave out the dashboards with this tag (the span-metrics boards, when
            there is no Collector to make their series).
    """
    found = []
    for path in sorted(paths):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        if without_tag is not None and without_tag in dashboard.get("tags", []):
            continue
        values = {**_variables(dashboard), **BUILTIN_VARIABLES, **(variables or {})}
        for panel in _panels(dashboard.get("panels", [])):
            for target in panel.get("targets") or []:
                if target.get("expr"):
                    found.append(
                        PanelQuery(
                            dashboard["uid"],
                            panel.get("title", ""),
                            target.get("refId", ""),
                            substitute(target["expr"], values),
                        )
                    )
    return found
