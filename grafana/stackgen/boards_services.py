"""The services dashboard: requests, errors and duration of every service, made from its spans.

The series come from the Collector's ``spanmetrics`` connector (collector/otel-collector.yaml),
so they exist for any traced service, and only on the Collector path: the board is tagged
:data:`SPAN_METRICS_TAG` and proven by tests/stack/test_topology.py (a direct scrape has no
span metrics). One panel per service (repeated over ``span_service``); a latency point links to
Jaeger's search for that service and operation.
"""

from __future__ import annotations

from otel_agents import semconv as sc

from .model import Board, Kind, Link, Panel, Query, Row, Variable
from .names import bucket, label, metric, selector
from .promql import legend, quantile, rate, sum_by
from .scope import SERVICES_BOARD_UID, jaeger_search

__all__ = ["SERVICES", "SPAN_METRICS_TAG"]

#: The tag of boards built on span metrics (made by the Collector only).
SPAN_METRICS_TAG = "span-metrics"

_CALLS = metric(sc.SPAN_METRICS_CALLS)
_SERVICE = label(sc.SERVICE_NAME)
_OPERATION = label(sc.SPAN_NAME)
_SPAN_SERVICE = {sc.SERVICE_NAME: "=~$span_service"}
_ALL = selector(_CALLS, _SPAN_SERVICE)
_ERRORS = selector(_CALLS, {**_SPAN_SERVICE, sc.STATUS_CODE: sc.STATUS_CODE_ERROR})
_BUCKETS = selector(bucket(sc.SPAN_METRICS_DURATION), _SPAN_SERVICE)

SERVICE_VARIABLE = Variable("span_service", "Traced service", _CALLS, _SERVICE)


def _panel(
    title: str, queries: list[Query], unit: str, description: str, links: tuple[Link, ...] = ()
) -> Panel:
    return Panel(
        title,
        Kind.TIMESERIES,
        tuple(queries),
        unit,
        description,
        links=links,
        repeat=SERVICE_VARIABLE.name,
    )


SERVICES = Board(
    uid=SERVICES_BOARD_UID,
    title="otel-agents / Services (from spans)",
    description=(
        "How many requests does each service serve, how many fail and how long do they take, "
        "by operation? Made from spans by the Collector (any traced service)."
    ),
    variables=(SERVICE_VARIABLE,),
    tags=(SPAN_METRICS_TAG,),
    rows=(
        Row(
            "Requests",
            (
                _panel(
                    "Requests of $span_service",
                    [
                        Query(
                            sum_by(rate(_ALL), _SERVICE, _OPERATION),
                            legend(_OPERATION),
                        )
                    ],
                    "reqps",
                    "Spans ended per second by span name (traces.span.metrics.calls).",
                ),
            ),
        ),
        Row(
            "Errors",
            (
                _panel(
                    "Error ratio of $span_service",
                    [
                        Query(
                            f"({sum_by(rate(_ERRORS), _SERVICE, _OPERATION)}"
                            f" or 0 * {sum_by(rate(_ALL), _SERVICE, _OPERATION)})"
                            f" / {sum_by(rate(_ALL), _SERVICE, _OPERATION)}",
                            legend(_OPERATION),
                        )
                    ],
                    "percentunit",
                    "Share of spans that ended with status ERROR, by span name (0 when none).",
                ),
            ),
        ),
        Row(
            "Duration",
            (
                _panel(
                    "Duration p95 of $span_service",
                    [
                        Query(
                            quantile(0.95, _BUCKETS, _SERVICE, _OPERATION),
                            f"p95 {legend(_OPERATION)}",
                        )
                    ],
                    "ms",
                    "traces.span.metrics.duration p95 by span name; click a point for the "
                    "traces of that operation in Jaeger (exemplars open one trace).",
                    links=(jaeger_search(_SERVICE, _OPERATION),),
                ),
            ),
        ),
    ),
)
