"""PromQL and panel helpers shared by the dashboard definitions."""

from __future__ import annotations

from otel_agents import semconv as sc

from .model import Kind, Panel, Query
from .names import bucket, label, selector

__all__ = [
    "AGENT",
    "AGENT_FILTER",
    "FIRING",
    "RATE",
    "SERVICE",
    "STATUS_CLASS",
    "legend",
    "percentiles",
    "quantile",
    "rate",
    "stat",
    "sum_by",
    "ts",
]

RATE = "$__rate_interval"
AGENT = label(sc.GEN_AI_AGENT_ID)
SERVICE = label(sc.GATEWAY_SERVICE_ID)
STATUS_CLASS = label(sc.GATEWAY_STATUS_CLASS)
AGENT_FILTER = {sc.GEN_AI_AGENT_ID: "=~$agent"}


def rate(series: str) -> str:
    return f"rate({series}[{RATE}])"


def sum_by(expr: str, *by: str) -> str:
    return f"sum by ({', '.join(by)}) ({expr})" if by else f"sum({expr})"


def quantile(q: float, bucket_series: str, *by: str) -> str:
    return f"histogram_quantile({q:g}, {sum_by(rate(bucket_series), 'le', *by)})"


def legend(*labels: str) -> str:
    return " ".join(f"{{{{{name}}}}}" for name in labels)


def ts(title: str, queries: list[Query], unit: str, description: str) -> Panel:
    return Panel(title, Kind.TIMESERIES, tuple(queries), unit, description)


def stat(title: str, expr: str, unit: str, description: str) -> Panel:
    return Panel(title, Kind.STAT, (Query(expr),), unit, description)


def percentiles(
    spec: sc.MetricSpec, by: str, matchers: dict[str, str] | None = None
) -> list[Query]:
    series = selector(bucket(spec), matchers)
    return [
        Query(quantile(q, series, by), f"p{int(q * 100)} {legend(by)}") for q in (0.5, 0.95, 0.99)
    ]


FIRING = selector("ALERTS", {"alertstate": "firing"})
