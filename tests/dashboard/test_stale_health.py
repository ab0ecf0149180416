"""The exported health score is a fresh one: a dashboard that stopped refreshing stops
reporting ``agent.health.score`` instead of exporting its last score for ever."""

from __future__ import annotations

from typing import Any

from otel_agents import semconv
from otel_agents._tracker import PerformanceTracker
from otel_agents.testing import TelemetryCapture
from tests.dashboard.conftest import FakeClock

WINDOW = 300.0


def _scores(telemetry: TelemetryCapture) -> dict[Any, float]:
    if semconv.AGENT_HEALTH_SCORE.name not in telemetry.metrics():
        return {}
    return {
        p.attributes.get(semconv.GEN_AI_AGENT_ID, "system"): p.value
        for p in telemetry.points(semconv.AGENT_HEALTH_SCORE.name)
    }


def test_a_score_older_than_the_window_is_no_longer_exported(
    make_dashboard: Any, tracker: PerformanceTracker, telemetry: TelemetryCapture, clock: FakeClock
) -> None:
    """Before: a dashboard stopped (or whose refreshes failed) exported its last scores for
    as long as the process lived, so a Prometheus alert on a low score never resolved."""
    dashboard = make_dashboard(
        tracker, config={"window_seconds": WINDOW, "default_alert_rules": False}
    )
    tracker.record_metric("cpu_usage", 100.0, agent_id="planner")
    dashboard.get_dashboard_data()
    assert _scores(telemetry) == {"system": 100.0, "planner": 80.0}

    clock.advance(WINDOW - 1)
    assert _scores(telemetry) == {"system": 100.0, "planner": 80.0}  # still fresh
    clock.advance(2)
    assert _scores(telemetry) == {}

    dashboard.get_dashboard_data()  # a refresh makes it fresh again
    assert _scores(telemetry)["system"] == 100.0


def test_a_refresh_interval_longer_than_the_window_keeps_the_score_between_refreshes(
    make_dashboard: Any, telemetry: TelemetryCapture, clock: FakeClock
) -> None:
    dashboard = make_dashboard(config={"window_seconds": 60.0, "refresh_interval": 120.0})
    dashboard.get_dashboard_data()
    clock.advance(200)  # within two refresh intervals
    assert _scores(telemetry) == {"system": 100.0}
    clock.advance(41)
    assert _scores(telemetry) == {}
