"""The dashboard's ``telemetry`` section: what every component recorded, from the SDK.

Built from an :class:`~otel_agents._inprocess.InProcessMetrics` snapshot, so messages,
gateway requests and profiled blocks appear in ``get_dashboard_data()`` exactly as the
exporters send them; components never report to the dashboard a second time.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from otel_agents import semconv as sc
from otel_agents._inprocess import MetricPoint, total

__all__ = ["gateway_series", "telemetry_summary"]

#: Gateway status classes that count as errors in the dashboard's totals.
_ERROR_CLASSES = frozenset({"5xx"})


def telemetry_summary(points: Mapping[str, list[MetricPoint]] | None) -> dict[str, Any]:
    """``{"available", "messages", "gateway", "profiler", "instruments"}`` from a snapshot.

    ``None`` (no in-process reader: ``configure(dashboard=True)`` was not called) gives
    ``{"available": False}`` so a view can say why it has nothing to show.
    """
    if points is None:
        return {"available": False}
    return {
        "available": True,
        "messages": _messages(points),
        "gateway": _gateway(points),
        "profiler": _profiler(points),
        "instruments": {
            name: {"series": len(series), "total": round(total(series), 6)}
            for name, series in sorted(points.items())
        },
    }


def gateway_series(
    points: Mapping[str, list[MetricPoint]] | None,
) -> dict[str, dict[Hashable, float]]:
    """The gateway's lifetime ``requests`` and ``errors`` (5xx), series by series (keyed by
    their attributes), for :class:`~otel_agents._dashboard_window.WindowedTotals`: a
    restarted series is told from the others only series by series."""
    requests: dict[Hashable, float] = {}
    errors: dict[Hashable, float] = {}
    for attributes, value in (points or {}).get(sc.GATEWAY_REQUESTS.name, []):
        key = frozenset(attributes.items())
        requests[key] = requests.get(key, 0) + value
        if attributes.get(sc.GATEWAY_STATUS_CLASS) in _ERROR_CLASSES:
            errors[key] = errors.get(key, 0) + value
    return {"requests": requests, "errors": errors}


def _get(points: Mapping[str, list[MetricPoint]], spec: sc.MetricSpec) -> list[MetricPoint]:
    return points.get(spec.name, [])


def _by(series: list[MetricPoint], key: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for attributes, value in series:
        subject = attributes.get(key)
        if subject is not None:
            amount = value["count"] if isinstance(value, dict) else value
            found[str(subject)] = found.get(str(subject), 0.0) + amount
    return found


def _histogram(series: list[MetricPoint]) -> dict[str, Any]:
    count = sum(v["count"] for _, v in series if isinstance(v, dict))
    seconds = sum(v["sum"] for _, v in series if isinstance(v, dict))
    return {
        "count": count,
        "total_seconds": round(seconds, 6),
        "mean_seconds": round(seconds / count, 6) if count else None,
    }


def _messages(points: Mapping[str, list[MetricPoint]]) -> dict[str, Any]:
    sent = _get(points, sc.MESSAGING_CLIENT_SENT_MESSAGES)
    consumed = _get(points, sc.MESSAGING_CLIENT_CONSUMED_MESSAGES)
    # Message metrics carry the destination (the recipient agent), never the sender: one
    # series per recipient, not per pair. So per agent: messages addressed to it and
    # messages it processed.
    agents: dict[str, dict[str, float]] = {}
    for field, series in (("addressed", sent), ("consumed", consumed)):
        for agent_id, count in _by(series, sc.MESSAGING_DESTINATION_NAME).items():
            if agent_id != sc.MESSAGING_BROADCAST_DESTINATION:
                agents.setdefault(agent_id, {"addressed": 0, "consumed": 0})[field] = count
    return {
        "sent": total(sent),
        "consumed": total(consumed),
        "failed": total(_get(points, sc.AGENT_MESSAGE_FAILED)),
        "expired": total(_get(points, sc.AGENT_MESSAGE_EXPIRED)),
        "routed": total(_get(points, sc.AGENT_MESSAGE_ROUTED)),
        "rejected": total(_get(points, sc.AGENT_MESSAGE_REJECTED)),
        "processing": _histogram(_get(points, sc.MESSAGING_PROCESS_DURATION)),
        "agents": dict(sorted(agents.items())),
    }


def _gateway(points: Mapping[str, list[MetricPoint]]) -> dict[str, Any]:
    requests = _get(points, sc.GATEWAY_REQUESTS)
    services: dict[str, dict[str, float]] = {}

    def service(attributes: Mapping[str, Any]) -> dict[str, float]:
        name = str(attributes.get(sc.GATEWAY_SERVICE_ID, ""))
        return services.setdefault(
            name, {"requests": 0, "errors": 0, "rate_limited": 0, "upstream_errors": 0}
        )

    errors = 0.0
    for attributes, value in requests:
        entry = service(attributes)
        entry["requests"] += value
        if attributes.get(sc.GATEWAY_STATUS_CLASS) in _ERROR_CLASSES:
            entry["errors"] += value
            errors += value
    for spec, field in (
        (sc.GATEWAY_RATE_LIMITED, "rate_limited"),
        (sc.GATEWAY_UPSTREAM_ERRORS, "upstream_errors"),
    ):
        for attributes, value in _get(points, spec):
            service(attributes)[field] += value
    return {
        "requests": total(requests),
        "errors": errors,
        "rate_limited": total(_get(points, sc.GATEWAY_RATE_LIMITED)),
        "upstream_errors": total(_get(points, sc.GATEWAY_UPSTREAM_ERRORS)),
        "upstream_calls": _histogram(_get(points, sc.HTTP_CLIENT_REQUEST_DURATION)),
        "services": dict(sorted(services.items())),
    }


def _profiler(points: Mapping[str, list[MetricPoint]]) -> dict[str, Any]:
    blocks: dict[str, list[MetricPoint]] = {}
    for attributes, value in _get(points, sc.AGENT_PROFILE_DURATION):
        name = str(attributes.get(sc.AGENT_PROFILE_NAME, ""))
        blocks.setdefault(name, []).append((attributes, value))
    return {name: _histogram(series) for name, series in sorted(blocks.items())}
