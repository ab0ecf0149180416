"""PerformanceDashboard: data, rules over tracked metrics, sources, lifecycle and export."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from otel_agents import semconv
from otel_agents._alert_record import AlertLevel
from otel_agents._alerts import UnknownAlertError
from otel_agents._dashboard import DashboardView
from otel_agents._errors import ConfigurationError, InvalidTypeError, InvalidValueError
from otel_agents._tracker import PerformanceTracker
from otel_agents.messaging import AgentCommunicationProtocol
from otel_agents.testing import TelemetryCapture
from tests.dashboard.conftest import FakeClock

CPU_RULE = {"name": "cpu", "metric": "cpu_usage", "raise_at": 90.0, "clear_at": 70.0}


class FakeGateway:
    """Answers list_services() like APIGateway does."""

    def __init__(self, healthy: list[bool]) -> None:
        self.healthy = healthy

    def list_services(self) -> list[dict[str, Any]]:
        return [
            {
                "service_id": "users",
                "instances": [{"base_url": "http://u", "healthy": ok} for ok in self.healthy],
                "healthy_instances": sum(self.healthy),
            }
        ]


class BrokenManager:
    def list_agents(self) -> list[Any]:
        raise RuntimeError("registry unavailable")


@pytest.fixture
def comm(telemetry: TelemetryCapture) -> AgentCommunicationProtocol:
    comm = AgentCommunicationProtocol(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    for agent_id in ("planner", "researcher"):
        comm.register_agent(agent_id, agent_id.title(), ["work"], f"http://localhost/{agent_id}")
    return comm


def test_dashboard_data_round_trips_through_json_and_agrees_with_exported_metrics(
    make_dashboard: Any,
    tracker: PerformanceTracker,
    comm: AgentCommunicationProtocol,
    telemetry: TelemetryCapture,
) -> None:
    dashboard = make_dashboard(tracker, comm, {"default_alert_rules": False})
    tracker.record_metric("cpu_usage", 80.0, agent_id="planner")
    tracker.record_metric("request_count", 10, agent_id="planner")
    tracker.record_metric("error_count", 1, agent_id="planner")
    dashboard.add_alert("error", "planner stalled", "tests")
    dashboard.add_alert("warning", "queue long", "tests")

    data = dashboard.get_dashboard_data()

    assert json.loads(json.dumps(data, allow_nan=False)) == data
    health = {
        (p.attributes.get(semconv.GEN_AI_AGENT_ID), p.attributes[semconv.HEALTH_SCOPE]): p.value
        for p in telemetry.points(semconv.AGENT_HEALTH_SCORE.name)
    }
    assert health == {
        (None, "system"): data["system"]["health_score"],
        ("planner", "agent"): data["agents"]["planner"]["health_score"],
        ("researcher", "agent"): data["agents"]["researcher"]["health_score"],
    }
    active = {
        (p.attributes[semconv.ALERT_LEVEL], p.attributes[semconv.ALERT_SOURCE]): p.value
        for p in telemetry.points(semconv.AGENT_ALERTS_ACTIVE.name)
    }
    assert active == {
        (e["level"], e["source"]): e["count"] for e in data["alerts"]["by_level_source"]
    }
    assert active == {("error", "tests"): 1, ("warning", "tests"): 1}


def test_system_and_agent_health_follow_the_formula(
    make_dashboard: Any, tracker: PerformanceTracker, comm: AgentCommunicationProtocol
) -> None:
    dashboard = make_dashboard(tracker, comm, {"default_alert_rules": False})
    tracker.record_metric("cpu_usage", 80.0, agent_id="planner")
    tracker.record_metric("request_count", 10, agent_id="planner")
    tracker.record_metric("error_count", 1, agent_id="planner")
    comm.update_agent_status("researcher", "offline")
    dashboard.add_alert("warning", "queue long", "tests")

    data = dashboard.get_dashboard_data()

    planner = data["agents"]["planner"]
    assert planner["error_rate_percent"] == 10.0
    assert planner["health"]["penalties"] == {
        "resources": 12.0,  # 0.4 * (80 - 50)
        "alerts": 0.0,  # the warning is about no agent
        "availability": 0.0,
        "errors": 10.0,
    }
    assert planner["health_score"] == 78.0
    assert data["agents"]["researcher"]["health_score"] == 70.0  # offline: -30
    system = data["system"]
    assert (system["cpu_percent"], system["memory_percent"]) == (40.0, 30.0)
    assert (system["agents_total"], system["agents_available"]) == (2, 1)
    assert system["agents_by_status"] == {"offline": 1, "online": 1}
    # 100 - 0 (resources) - 5 (one warning) - 15 (half the agents) - 10 (errors)
    assert system["health_score"] == 70.0


def test_a_rule_over_tracked_cpu_raises_an_alert_about_the_agent(
    make_dashboard: Any, tracker: PerformanceTracker, clock: FakeClock
) -> None:
    dashboard = make_dashboard(
        tracker, config={"default_alert_rules": False, "alert_rules": [CPU_RULE]}
    )
    tracker.record_metric("cpu_usage", 95.0, agent_id="planner")
    data = dashboard.get_dashboard_data()
    (alert,) = data["alerts"]["active"]
    assert (alert["rule"], alert["agent_id"], alert["level"]) == ("cpu", "planner", "warning")
    assert data["agents"]["planner"]["active_alerts"]["warning"] == 1
    tracker.record_metric("cpu_usage", 60.0, agent_id="planner")
    clock.advance(5)
    data = dashboard.get_dashboard_data()
    assert data["alerts"]["active"] == []
    assert data["alerts"]["history"][-1]["resolved_by"] == "rule"


def test_default_rules_raise_agent_offline_from_the_agent_manager(
    make_dashboard: Any, comm: AgentCommunicationProtocol
) -> None:
    dashboard = make_dashboard(agent_manager=comm)
    dashboard.get_dashboard_data()
    assert dashboard.get_active_alerts() == []
    comm.update_agent_status("planner", "offline")
    dashboard.get_dashboard_data()
    (alert,) = dashboard.get_active_alerts()
    assert (alert.rule, alert.agent_id, alert.source, alert.level) == (
        "agent_offline",
        "planner",
        "agent_manager",
        AlertLevel.ERROR,
    )
    comm.update_agent_status("planner", "online")
    dashboard.get_dashboard_data()
    assert dashboard.get_active_alerts() == []


def test_default_rules_raise_upstream_unhealthy_from_the_gateway(make_dashboard: Any) -> None:
    gateway = FakeGateway([True, False])
    dashboard = make_dashboard(gateway=gateway)
    data = dashboard.get_dashboard_data()
    assert data["upstreams"] == [
        {"service_id": "users", "instances": 2, "healthy_instances": 1, "unhealthy_instances": 1}
    ]
    (alert,) = dashboard.get_active_alerts()
    assert (alert.rule, alert.source, alert.agent_id) == ("upstream_unhealthy", "api_gateway", None)
    assert alert.context["subject"] == "users"


def test_a_source_that_raises_reads_as_empty_and_is_logged_once(
    make_dashboard: Any, caplog: pytest.LogCaptureFixture
) -> None:
    dashboard = make_dashboard(agent_manager=BrokenManager())
    with caplog.at_level(logging.ERROR, logger="otel_agents.dashboard"):
        for _ in range(3):
            data = dashboard.get_dashboard_data()
    assert data["system"]["agents_total"] == 0
    assert len([r for r in caplog.records if "agent statuses" in r.getMessage()]) == 1


def test_add_acknowledge_and_resolve_alerts(make_dashboard: Any, clock: FakeClock) -> None:
    dashboard = make_dashboard()
    alert = dashboard.add_alert(AlertLevel.CRITICAL, "hub down", "agent_manager", {"port": 8000})
    clock.advance(1)
    assert dashboard.acknowledge_alert(alert.alert_id).acknowledged_at == clock.now
    clock.advance(1)
    assert dashboard.resolve_alert(alert.alert_id).resolved_at == clock.now
    assert dashboard.get_active_alerts() == []
    assert [a.alert_id for a in dashboard.get_alert_history()] == [alert.alert_id]


def test_bad_alert_input_is_refused_and_nothing_is_lost(make_dashboard: Any) -> None:
    dashboard = make_dashboard()
    kept = dashboard.add_alert("info", "kept", "tests")
    with pytest.raises(InvalidValueError, match="level='loud'"):
        dashboard.add_alert("loud", "x", "tests")
    with pytest.raises(InvalidValueError, match="message=''"):
        dashboard.add_alert("info", "", "tests")
    with pytest.raises(UnknownAlertError, match="alert_id='missing'"):
        dashboard.acknowledge_alert("missing")
    assert dashboard.get_active_alerts() == [kept]


def test_a_rule_on_an_unknown_metric_is_a_clear_error(make_dashboard: Any) -> None:
    with pytest.raises(InvalidValueError, match=r"metric='gpu'.*valid choices"):
        make_dashboard(config={"alert_rules": [{"name": "g", "metric": "gpu", "raise_at": 1}]})
    dashboard = make_dashboard()
    with pytest.raises(InvalidValueError, match="metric='gpu'"):
        dashboard.add_alert_rule({"name": "g", "metric": "gpu", "raise_at": 1})


def test_bad_config_and_components_are_refused(make_dashboard: Any) -> None:
    with pytest.raises(ConfigurationError, match="'refresh_rate' is not known"):
        make_dashboard(config={"refresh_rate": 1})
    with pytest.raises(ConfigurationError, match=r"config\['refresh_interval'\]=0"):
        make_dashboard(config={"refresh_interval": 0})
    with pytest.raises(InvalidTypeError, match=r"agent_manager=.*list_agents"):
        make_dashboard(agent_manager=object())


def test_set_view_accepts_members_and_values_and_refuses_others(make_dashboard: Any) -> None:
    dashboard = make_dashboard()
    assert dashboard.set_view(DashboardView.ALERTS) is DashboardView.ALERTS
    assert dashboard.set_view("historical") is DashboardView.HISTORICAL
    with pytest.raises(InvalidValueError, match=r"view='graphs'.*agent_performance"):
        dashboard.set_view("graphs")
    with pytest.raises(InvalidTypeError, match="view=3"):
        dashboard.set_view(3)  # type: ignore[arg-type]
    assert dashboard.current_view is DashboardView.HISTORICAL
    assert dashboard.get_dashboard_data()["view"] == "historical"


def test_start_and_stop_are_safe_twice_and_leave_no_thread(make_dashboard: Any) -> None:
    dashboard = make_dashboard(config={"refresh_interval": 0.01})

    def threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "otel-agents-dashboard"]

    dashboard.start()
    dashboard.start()
    assert len(threads()) == 1
    assert threads()[0].daemon
    assert dashboard.running
    dashboard.stop()
    dashboard.stop()
    assert threads() == []
    assert not dashboard.running
    dashboard.start()
    dashboard.stop()
    assert threads() == []


def test_the_refresh_loop_refreshes_the_historical_view(make_dashboard: Any) -> None:
    dashboard = make_dashboard(config={"refresh_interval": 0.01})
    refreshed = threading.Event()
    dashboard.alert_manager.add_listener(lambda alert: refreshed.set())
    dashboard.add_alert_rule({"name": "always", "metric": "system_cpu_usage", "raise_at": 0})
    dashboard.start()
    assert refreshed.wait(5.0)
    dashboard.stop()
    assert len(dashboard.get_dashboard_data()["historical"]) >= 2


def test_history_points_are_bounded(make_dashboard: Any) -> None:
    dashboard = make_dashboard(config={"max_history_points": 3})
    for _ in range(5):
        data = dashboard.get_dashboard_data()
    assert len(data["historical"]) == 3
    assert set(data["historical"][0]) == {
        "timestamp",
        "health_score",
        "cpu_percent",
        "memory_percent",
        "error_rate_percent",
        "agents_available",
        "agents_total",
        "active_alerts",
    }


def test_export_writes_the_dashboard_data_as_json(make_dashboard: Any, tmp_path: Path) -> None:
    dashboard = make_dashboard()
    dashboard.add_alert("warning", "exported", "tests", {"api_key": "hidden"})
    path = dashboard.export_dashboard_data(tmp_path / "dashboard.json")
    exported = json.loads(path.read_text())
    assert exported["kind"] == "dashboard"
    assert exported["generator"].startswith("otel-agents ")
    (alert,) = exported["alerts"]["active"]
    assert alert["context"] == {"api_key": "[REDACTED]"}
    assert exported["system"]["active_alerts"] == 1
