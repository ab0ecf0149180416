from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from otel_agents._demo import Swarm
from otel_agents._tracker import MetricType


@pytest.mark.integration
def test_the_demo_exports_every_component_relative_to_the_current_directory(
    tmp_path: Path,
) -> None:
    """--export DIR writes the tracker, profiler, messaging, dashboard and gateway data
    under the current directory, and the dashboard saw messages and gateway requests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    cli = Path(sys.executable).with_name("otel-agents")

    result = subprocess.run(
        [str(cli), "demo", "--duration", "1", "--export", "out"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "planner" in result.stdout
    # A first run explains itself: progress, the score, the simulated errors, what next.
    assert "Running 3 agents (planner, researcher, monitor) for 1 s..." in result.stdout
    assert "= 100 minus points taken off for resources -" in result.stdout
    assert "docs/dashboard.md" in result.stdout
    assert "The errors are simulated: the planner 2% and the researcher 5%" in result.stdout
    assert "`otel-agents dashboard`" in result.stdout
    folder = tmp_path / "out"
    assert sorted(p.name for p in folder.iterdir()) == [
        "dashboard.json",
        "gateway-history.json",
        "messages.json",
        "metrics.json",
        "profiles.json",
    ]
    data = json.loads((folder / "metrics.json").read_text())
    agents = {m["agent_id"] for m in data["metrics"]}
    assert agents == {"planner", "researcher", "monitor"}
    assert {m["metric_type"] for m in data["metrics"]} >= {"response_time", "request_count"}
    dashboard = json.loads((folder / "dashboard.json").read_text())
    telemetry = dashboard["telemetry"]
    assert telemetry["available"] is True
    assert telemetry["messages"]["sent"] > 0
    assert telemetry["gateway"]["services"]["search"]["requests"] > 0
    assert telemetry["profiler"]["researcher.research"]["count"] > 0
    assert json.loads((folder / "gateway-history.json").read_text())["kind"] == "gateway_history"
    assert json.loads((folder / "messages.json").read_text())["message_count"] > 0
    assert json.loads((folder / "profiles.json").read_text())["profiles"]


@pytest.mark.integration
def test_the_swarm_records_every_tracker_metric_and_starts_its_dashboard() -> None:
    """Every panel of the Agent performance dashboard has data from the demo alone."""
    with Swarm(configure_telemetry=False, refresh=0.2) as swarm:
        deadline = time.monotonic() + 30  # a hang guard, not a speed target
        recorded: set[MetricType] = set()
        while time.monotonic() < deadline and recorded != set(MetricType):
            recorded = {m.metric_type for m in swarm.tracker.get_metrics()}
            swarm.run_for(0.2)
        assert swarm.dashboard.running
    assert recorded == set(MetricType)
