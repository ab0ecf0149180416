from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from otel_agents.demo import Swarm
from otel_agents.tracker import MetricType


@pytest.mark.integration
def test_the_demo_runs_from_the_command_line_and_exports_what_it_tracked(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    export = tmp_path / "demo.json"
    cli = Path(sys.executable).with_name("otel-agents")

    result = subprocess.run(
        [str(cli), "demo", "--duration", "1", "--export", str(export)],
        env=env,
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
    data = json.loads(export.read_text())
    agents = {m["agent_id"] for m in data["metrics"]}
    assert agents == {"planner", "researcher", "monitor"}
    assert {m["metric_type"] for m in data["metrics"]} >= {"response_time", "request_count"}


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
