"""One refresh of the dashboard's data: per-agent figures and health, the system rollup.

Split from :mod:`otel_agents._dashboard`, which holds the :class:`PerformanceDashboard`'s API
(views, alerts, rules, export) and its refresh thread and history: this module is the data
assembly that each refresh runs. It reads the tracker, agent manager, gateway and machine
(:mod:`otel_agents._dashboard_sources`) and the in-process metrics
(:mod:`otel_agents._dashboard_telemetry`), runs the alert rules, computes the health scores
(:mod:`otel_agents._health`) and lays out every section of the data, so the arithmetic of the
totals and rates reads in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otel_agents._dashboard_sources import (
    AVAILABLE_STATUSES,
    agent_stats,
    alerts_by_level,
    empty_stats,
    error_rate_percent,
    rule_readings,
)
from otel_agents._dashboard_telemetry import gateway_series, telemetry_summary
from otel_agents._health import HealthInputs, health_score
from otel_agents._inprocess import installed_reader

if TYPE_CHECKING:
    from otel_agents._dashboard import PerformanceDashboard

__all__ = ["build_data"]


def build_data(dashboard: PerformanceDashboard) -> dict[str, Any]:
    """One refresh: read the sources, run the alert rules, score health; the JSON-ready data."""
    sources = dashboard._sources
    agents_known = sources.agents()
    stats, metric_summaries = agent_stats(sources.records(dashboard.config["window_seconds"]))
    system = sources.system()
    upstreams = sources.upstreams()
    now = dashboard._clock()
    reader = dashboard._metrics_reader or installed_reader()
    snapshot = reader.snapshot() if reader is not None else None
    telemetry = telemetry_summary(snapshot)
    # The window is an interval: on the monotonic clock (a wall-clock step back of an hour
    # made it an hour longer, and kept an outage long past in the error rate).
    elapsed = dashboard._monotonic()
    gateway = dashboard._gateway_window.change(reader, elapsed, gateway_series(snapshot))
    messaging = telemetry.get("messages", {}).get("agents", {})
    agent_ids = sorted(
        set(stats) | set(agents_known) | set(sources.tracked_agents()) | set(messaging)
    )
    dashboard.rule_engine.evaluate(rule_readings(stats, agents_known, system, upstreams), agent_ids)

    active = dashboard.alert_manager.get_active_alerts()
    agents: dict[str, dict[str, Any]] = {}
    for agent_id in agent_ids:
        figures = stats.get(agent_id) or empty_stats()
        status = agents_known.get(agent_id, {}).get("status")
        counts = alerts_by_level(a for a in active if a.agent_id == agent_id)
        known = status is not None
        score = health_score(
            HealthInputs(
                cpu_percent=figures["cpu_percent"],
                alerts=counts,
                agents_total=int(known),
                agents_available=int(known and status in AVAILABLE_STATUSES),
                error_rate_percent=figures["error_rate_percent"],
            ),
            dashboard.health_weights,
        )
        agents[agent_id] = {
            "agent_id": agent_id,
            "name": agents_known.get(agent_id, {}).get("name"),
            "status": status,
            "health_score": score.score,
            "health": score.to_dict(),
            "active_alerts": counts,
            **figures,
            "messages_addressed": messaging.get(agent_id, {}).get("addressed", 0),
            "messages_consumed": messaging.get(agent_id, {}).get("consumed", 0),
        }
    requests = sum(a["requests"] for a in agents.values())
    errors = sum(a["errors"] for a in agents.values())
    # Gateway requests are not agent requests: nothing is counted twice. Both counts
    # cover the same window (the gateway's are the change of its lifetime totals).
    requests += gateway["requests"]
    errors += gateway["errors"]
    rates = [
        a["error_rate_percent"] for a in agents.values() if a["error_rate_percent"] is not None
    ]
    error_rate = (
        error_rate_percent(errors, requests)
        if requests
        else (sum(rates) / len(rates) if rates else None)
    )
    cpu = system["cpu_percent"]
    if cpu is None:
        cpus = [a["cpu_percent"] for a in agents.values() if a["cpu_percent"] is not None]
        cpu = round(sum(cpus) / len(cpus), 3) if cpus else None
    by_status: dict[str, int] = {}
    for info in agents_known.values():
        by_status[info["status"]] = by_status.get(info["status"], 0) + 1
    available = sum(n for s, n in by_status.items() if s in AVAILABLE_STATUSES)
    level_counts = dashboard.alert_manager.counts_by_level()
    overall = health_score(
        HealthInputs(
            cpu,
            system["memory_percent"],
            level_counts,
            len(agents_known),
            available,
            error_rate,
        ),
        dashboard.health_weights,
    )
    return {
        "timestamp": now,
        "view": dashboard.current_view.value,
        "refresh_interval": dashboard.config["refresh_interval"],
        "window_seconds": dashboard.config["window_seconds"],
        "running": dashboard.running,
        "system": {
            "health_score": overall.score,
            "health": overall.to_dict(),
            "cpu_percent": cpu,
            "memory_percent": system["memory_percent"],
            "error_rate_percent": error_rate,
            "requests": requests,
            "errors": errors,
            "messages_sent": telemetry.get("messages", {}).get("sent", 0),
            "messages_consumed": telemetry.get("messages", {}).get("consumed", 0),
            "gateway_requests": gateway["requests"],
            "profiled_blocks": sum(b["count"] for b in telemetry.get("profiler", {}).values()),
            "agents_total": len(agents_known),
            "agents_available": available,
            "agents_by_status": by_status,
            "active_alerts": sum(level_counts.values()),
        },
        "agents": agents,
        "metrics": metric_summaries,
        "upstreams": upstreams,
        "alerts": {
            "counts": level_counts,
            "by_level_source": [
                {"level": level, "source": source, "count": count}
                for (level, source), count in sorted(dashboard.alert_manager.counts().items())
            ],
            "active": [a.to_dict() for a in active],
            "history": [a.to_dict() for a in dashboard.alert_manager.get_history()[-50:]],
        },
        "rules": [rule.to_dict() for rule in dashboard.rule_engine.rules],
        "telemetry": telemetry,
    }
