"""The seed's dashboard examples run unchanged but for the import line."""

from __future__ import annotations

import json
import threading

from otel_agents._dashboard import AlertLevel, DashboardView, PerformanceDashboard
from otel_agents._tracker import PerformanceTracker
from otel_agents.messaging import AgentCommunicationProtocol


def test_section_3_usage_example_runs_unchanged() -> None:
    tracker = PerformanceTracker()
    agent_manager = AgentCommunicationProtocol()
    try:
        # -- the seed's section 3, verbatim --
        # Initialize dashboard
        dashboard = PerformanceDashboard(performance_tracker=tracker, agent_manager=agent_manager)

        # Start dashboard
        dashboard.start()

        # Set view
        dashboard.set_view(DashboardView.AGENT_PERFORMANCE)

        # Add alerts
        dashboard.add_alert(AlertLevel.WARNING, "High CPU usage detected", "system_monitor")

        # Get dashboard data
        data = dashboard.get_dashboard_data()
        # -- end of the seed's example --
    finally:
        dashboard.stop()
        tracker.stop()
    assert data["view"] == "agent_performance"
    (alert,) = data["alerts"]["active"]
    assert (alert["level"], alert["message"], alert["source"]) == (
        "warning",
        "High CPU usage detected",
        "system_monitor",
    )
    assert data["system"]["active_alerts"] == 1
    json.dumps(data, allow_nan=False)


def test_basic_usage_example_runs_unchanged() -> None:
    # -- the seed's "Basic Usage", verbatim but for the import lines --
    from otel_agents._dashboard import PerformanceDashboard
    from otel_agents._tracker import PerformanceTracker

    # Initialize systems
    tracker = PerformanceTracker()
    dashboard = PerformanceDashboard(performance_tracker=tracker)

    # Start monitoring
    dashboard.start()

    # Record metrics
    tracker.record_metric("response_time", 0.5, agent_id="my_agent")

    # View dashboard
    data = dashboard.get_dashboard_data()
    # -- end of the seed's example --
    dashboard.stop()
    tracker.stop()
    assert data["agents"]["my_agent"]["response_time"]["p50"] == 0.5
    assert 0 <= data["system"]["health_score"] <= 100
    assert not any(t.name == "otel-agents-dashboard" for t in threading.enumerate())
