"""Dashboards about the stack around the agents: the API gateway and the alerts."""

from __future__ import annotations

from otel_agents import semconv as sc

from .model import Board, Kind, Panel, Query, Row
from .names import bucket, label, metric, selector
from .promql import FIRING, SERVICE, STATUS_CLASS, legend, quantile, rate, sum_by, ts

__all__ = ["ALERTS", "GATEWAY"]

# -- API gateway -----------------------------------------------------------------------------
_REQUESTS = metric(sc.GATEWAY_REQUESTS)
_5XX = selector(_REQUESTS, {sc.GATEWAY_STATUS_CLASS: "5xx"})
_ROUTE = label(sc.HTTP_ROUTE)
_UPSTREAM = bucket(sc.HTTP_CLIENT_REQUEST_DURATION)
#: Requests with a route template: the gateway's routed requests (other apps' servers that
#: share the Prometheus record no route).
_SERVED = selector(bucket(sc.HTTP_SERVER_REQUEST_DURATION), {sc.HTTP_ROUTE: "!="})

GATEWAY = Board(
    uid="otel-agents-gateway",
    title="otel-agents / API gateway",
    description=(
        "How much traffic does the gateway serve, how fast, how much fails, "
        "and is every upstream healthy?"
    ),
    rows=(
        Row(
            "Traffic",
            (
                ts(
                    "Requests by service and status class",
                    [
                        Query(
                            sum_by(rate(_REQUESTS), SERVICE, STATUS_CLASS),
                            legend(SERVICE, STATUS_CLASS),
                        )
                    ],
                    "reqps",
                    "gateway.requests per second.",
                ),
                ts(
                    "Requests by route",
                    [
                        Query(
                            sum_by(rate(_REQUESTS), _ROUTE, label(sc.HTTP_REQUEST_METHOD)),
                            legend(label(sc.HTTP_REQUEST_METHOD), _ROUTE),
                        )
                    ],
                    "reqps",
                    "gateway.requests per second by http.route and method.",
                ),
                ts(
                    "4xx and 5xx",
                    [
                        Query(
                            sum_by(
                                rate(selector(_REQUESTS, {sc.GATEWAY_STATUS_CLASS: "=~4xx|5xx"})),
                                SERVICE,
                                STATUS_CLASS,
                            ),
                            legend(SERVICE, STATUS_CLASS),
                        )
                    ],
                    "reqps",
                    "Client and server errors per second.",
                ),
                ts(
                    "5xx ratio",
                    [
                        Query(
                            f"{sum_by(rate(_5XX), SERVICE)} / {sum_by(rate(_REQUESTS), SERVICE)}",
                            legend(SERVICE),
                        )
                    ],
                    "percentunit",
                    "Share of answers that were 5xx (alert above 5%).",
                ),
                ts(
                    "Rate limited (429)",
                    [
                        Query(
                            sum_by(
                                rate(metric(sc.GATEWAY_RATE_LIMITED)),
                                SERVICE,
                                label(sc.GATEWAY_RATE_LIMIT_SCOPE),
                            ),
                            legend(SERVICE, label(sc.GATEWAY_RATE_LIMIT_SCOPE)),
                        )
                    ],
                    "reqps",
                    "gateway.rate_limited per second by token bucket scope.",
                ),
                ts(
                    "Request duration by route",
                    [
                        Query(quantile(q, _SERVED, _ROUTE), f"p{int(q * 100)} {legend(_ROUTE)}")
                        for q in (0.5, 0.95, 0.99)
                    ],
                    "s",
                    "http.server.request.duration (OpenTelemetryMiddleware) by http.route: "
                    "the gateway's whole answer time, upstream included.",
                ),
                ts(
                    "Active requests",
                    [Query(sum_by(metric(sc.GATEWAY_ACTIVE_REQUESTS), SERVICE), legend(SERVICE))],
                    "short",
                    "gateway.active_requests in flight per service.",
                ),
            ),
        ),
        Row(
            "Upstreams",
            (
                ts(
                    "Upstream latency by service",
                    [
                        Query(quantile(q, _UPSTREAM, SERVICE), f"p{int(q * 100)} {legend(SERVICE)}")
                        for q in (0.5, 0.95, 0.99)
                    ],
                    "s",
                    "http.client.request.duration of the gateway's calls to each service.",
                ),
                ts(
                    "Upstream errors",
                    [
                        Query(
                            sum_by(
                                rate(metric(sc.GATEWAY_UPSTREAM_ERRORS)),
                                SERVICE,
                                label(sc.ERROR_TYPE),
                            ),
                            legend(SERVICE, label(sc.ERROR_TYPE)),
                        )
                    ],
                    "short",
                    "gateway.upstream.errors per second by error.type.",
                ),
                ts(
                    "Healthy instances",
                    [Query(sum_by(metric(sc.GATEWAY_INSTANCES_HEALTHY), SERVICE), legend(SERVICE))],
                    "short",
                    "gateway.instances.healthy in rotation per service (alert at 0).",
                ),
                ts(
                    "Health transitions",
                    [
                        Query(
                            sum_by(
                                rate(metric(sc.GATEWAY_HEALTH_TRANSITIONS)),
                                SERVICE,
                                label(sc.GATEWAY_HEALTH_STATE),
                            ),
                            legend(SERVICE, label(sc.GATEWAY_HEALTH_STATE)),
                        )
                    ],
                    "short",
                    "Instances moved in or out of rotation per second.",
                ),
            ),
        ),
    ),
)

# -- Alerts ----------------------------------------------------------------------------------
_LEVEL = label(sc.ALERT_LEVEL)
_SOURCE = label(sc.ALERT_SOURCE)

ALERTS = Board(
    uid="otel-agents-alerts",
    title="otel-agents / Alerts",
    description="What is firing now, and what fired before?",
    rows=(
        Row(
            "Firing",
            (
                Panel(
                    "Prometheus alerts firing",
                    Kind.TABLE,
                    (Query(FIRING),),
                    "none",
                    "Alert rules of prometheus/rules firing now, with their labels.",
                ),
                Panel(
                    "In-process alerts by level and source",
                    Kind.TABLE,
                    (Query(sum_by(metric(sc.AGENT_ALERTS_ACTIVE), _LEVEL, _SOURCE)),),
                    "none",
                    "agent.alerts.active: raised by the dashboard's rules and not yet resolved.",
                ),
            ),
        ),
        Row(
            "History",
            (
                ts(
                    "Prometheus alerts over time",
                    [
                        Query(
                            sum_by(FIRING, "alertname", "severity"), legend("alertname", "severity")
                        )
                    ],
                    "none",
                    "Which rules fired when.",
                ),
                ts(
                    "Alerts raised by level",
                    [Query(sum_by(rate(metric(sc.AGENT_ALERTS_RAISED)), _LEVEL), legend(_LEVEL))],
                    "short",
                    "agent.alerts.raised per second by alert.level.",
                ),
                ts(
                    "Alerts raised by source",
                    [Query(sum_by(rate(metric(sc.AGENT_ALERTS_RAISED)), _SOURCE), legend(_SOURCE))],
                    "short",
                    "agent.alerts.raised per second by alert.source.",
                ),
            ),
        ),
    ),
)
