"""The terminal dashboard: every view renders, and ``otel-agents dashboard`` parses and runs."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from otel_agents._console import register, render, run
from otel_agents._dashboard import DashboardView
from otel_agents._tracker import PerformanceTracker
from otel_agents.messaging import AgentCommunicationProtocol
from otel_agents.testing import TelemetryCapture
from tests.dashboard.conftest import FakeClock


@pytest.fixture
def data(
    make_dashboard: Any,
    tracker: PerformanceTracker,
    telemetry: TelemetryCapture,
    clock: FakeClock,
) -> dict[str, Any]:
    comm = AgentCommunicationProtocol(meter_provider=telemetry.meter_provider)
    comm.register_agent("planner", "Task Planner", ["plan"], "http://localhost/planner")
    comm.register_agent("monitor", "System Monitor", ["watch"], "http://localhost/monitor")
    comm.update_agent_status("monitor", "offline")
    dashboard = make_dashboard(tracker, comm, {"default_alert_rules": False})
    for value in (0.010, 0.020, 0.030):
        tracker.record_metric("response_time", value, agent_id="planner")
    tracker.record_metric("request_count", 4, agent_id="planner")
    tracker.record_metric("error_count", 1, agent_id="planner")
    tracker.record_metric("cpu_usage", 42.0, agent_id="planner")
    tracker.record_metric("memory_usage", 64 * 2**20, agent_id="planner")
    resolved = dashboard.add_alert("error", "upstream users failed", "api_gateway")
    clock.advance(30)
    dashboard.resolve_alert(resolved.alert_id)
    dashboard.add_alert("critical", "hub unreachable", "agent_manager")
    dashboard.get_dashboard_data()
    clock.advance(5)
    result: dict[str, Any] = dashboard.get_dashboard_data()
    return result


def test_system_overview_shows_health_resources_agents_and_alerts(data: dict[str, Any]) -> None:
    text = render(data, DashboardView.SYSTEM_OVERVIEW)
    assert "otel-agents dashboard · system overview" in text
    assert f"{data['system']['health_score']:5.1f}/100" in text
    assert "CPU      [████████░░░░░░░░░░░░] 40.0 %" in text
    assert "Agents   1 of 2 available (offline 1, online 1)" in text
    assert "Errors   25.0 % of 4 requests" in text
    assert "critical 1  error 0  warning 0  info 0" in text
    assert "planner" in text
    assert "\033[" not in text


def test_agent_performance_shows_latency_percentiles_in_milliseconds(data: dict[str, Any]) -> None:
    lines = render(data, "agent_performance").splitlines()
    header = next(line for line in lines if line.startswith("agent"))
    assert header.split() == [
        "agent", "status", "health", "requests", "errors", "err", "%",
        "p50", "ms", "p95", "ms", "p99", "ms", "cpu", "%", "mem", "MiB",
    ]  # fmt: skip
    planner = next(line for line in lines if line.startswith("planner")).split()
    assert planner[1] == "online"
    assert planner[3:] == ["4", "1", "25.0", "20.0", "29.0", "29.8", "42.0", "64.0"]
    monitor = next(line for line in lines if line.startswith("monitor")).split()
    assert monitor[1] == "offline"


def test_metrics_detail_summarizes_each_metric_type(data: dict[str, Any]) -> None:
    text = render(data, DashboardView.METRICS_DETAIL)
    row = next(line for line in text.splitlines() if line.startswith("response_time"))
    assert row.split() == [
        "response_time",
        "s",
        "3",
        "0.01",
        "0.02",
        "0.02",
        "0.029",
        "0.0298",
        "0.03",
    ]


def test_alerts_view_lists_active_then_recently_resolved(data: dict[str, Any]) -> None:
    text = render(data, DashboardView.ALERTS)
    active, resolved = text.split("Recently resolved")
    assert "critical" in active
    assert "hub unreachable" in active
    assert "5s" in active
    assert "error" in resolved
    assert "by user" in resolved
    assert "upstream users failed" in resolved


def test_historical_view_draws_sparklines(data: dict[str, Any]) -> None:
    text = render(data, DashboardView.HISTORICAL)
    assert "last 2 refreshes" in text
    assert any(line.startswith("Health") and "min" in line for line in text.splitlines())


@pytest.mark.parametrize("view", list(DashboardView))
def test_every_view_renders_with_and_without_color(
    data: dict[str, Any], view: DashboardView
) -> None:
    plain = render(data, view)
    colored = render(data, view, color=True)
    assert "\033[" not in plain
    assert "\033[" in colored
    assert plain.startswith("otel-agents dashboard")


def test_views_render_an_empty_dashboard(make_dashboard: Any) -> None:
    data = make_dashboard().get_dashboard_data()
    assert "No agent has reported yet." in render(data, "agent_performance")
    assert "No metrics tracked" in render(data, "metrics_detail")
    assert "none" in render(data, "alerts")
    for view in DashboardView:
        render(data, view)


def test_the_dashboard_subcommand_parses_its_options() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["dashboard", "--once", "--view", "alerts", "--no-color"])
    assert (args.view, args.once, args.no_color, args.refresh, args.warmup) == (
        "alerts",
        True,
        True,
        5.0,
        1.0,
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["dashboard", "--view", "graphs"])


@pytest.mark.integration
def test_run_once_prints_one_frame_of_the_demo_swarm() -> None:
    out = io.StringIO()
    data = run(
        "agent_performance", once=True, warmup=0.3, color=False, out=out, configure_telemetry=False
    )
    text = out.getvalue()
    assert text.startswith("otel-agents dashboard · agent performance")
    assert {"planner", "researcher", "monitor"} <= set(data["agents"])
    assert all(
        data["agents"][a]["status"] == "online" for a in ("planner", "researcher", "monitor")
    )


@pytest.mark.integration
def test_run_redraws_every_refresh_until_the_duration() -> None:
    out = io.StringIO()
    run("alerts", duration=0.2, refresh=0.1, color=False, out=out, configure_telemetry=False)
    assert out.getvalue().count("otel-agents dashboard · alerts") == 3
    assert "demo swarm started with 3 agents" in out.getvalue()


@pytest.mark.integration
def test_otel_agents_dashboard_once_runs_from_the_command_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    cli = Path(sys.executable).with_name("otel-agents")
    result = subprocess.run(
        [str(cli), "dashboard", "--once", "--warmup", "0.5", "--view", "system_overview"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "otel-agents dashboard · system overview" in result.stdout
    assert "Agents   3 of 3 available (online 3)" in result.stdout
    assert "\033[" not in result.stdout  # not a terminal: no colors
