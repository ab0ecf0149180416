from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_agents import semconv as sc
from otel_agents._demo import Swarm
from otel_agents._demo_ai import MODELS, UNPRICED_MODEL
from otel_agents._tracker import MetricType
from otel_agents.genai._telemetry import GenAITelemetry, reset_default_telemetry


def _demo(cwd: Path, duration: str, export: str) -> subprocess.CompletedProcess[str]:
    """``otel-agents demo --duration D --export E`` run in ``cwd`` without the caller's
    ``OTEL_*`` variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("otel-agents")),
            "demo",
            "--duration",
            duration,
            "--export",
            export,
        ],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.integration
def test_the_demo_exports_every_component_relative_to_the_current_directory(
    tmp_path: Path,
) -> None:
    """--export DIR writes the tracker, profiler, messaging, dashboard and gateway data
    under the current directory, and the dashboard saw messages and gateway requests."""
    result = _demo(tmp_path, "1", "out")

    assert result.returncode == 0, result.stderr
    assert "planner" in result.stdout
    # A first run explains itself: progress, the score, the simulated errors, what next.
    assert "Running 3 agents (planner, researcher, monitor) for 1 s..." in result.stdout
    assert "= 100 minus points taken off for resources -" in result.stdout
    assert "docs/dashboard.md" in result.stdout
    assert "The errors are simulated: the planner 2% and the researcher 5%" in result.stdout
    assert "`otel-agents dashboard`" in result.stdout
    # The agents asked the local fake model: the AI usage section, with an unpriced model.
    assert "AI usage (a local fake model server; openai-compatible API):" in result.stdout
    assert f"monitor     {UNPRICED_MODEL}" in result.stdout
    assert "unpriced" in result.stdout
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


def _points(reader: InMemoryMetricReader, name: str) -> list[dict[str, object]]:
    data = reader.get_metrics_data()
    return [
        dict(point.attributes or {})
        for resource in (data.resource_metrics if data else [])
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


@pytest.mark.integration
def test_the_swarms_agents_ask_the_fake_model_and_pay_for_their_tokens() -> None:
    """Every agent makes model calls; priced models cost, the local one is unpriced; tools run
    and some fail on purpose: the AI usage board's series, from the demo alone."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    reset_default_telemetry(GenAITelemetry(meter_provider=provider))
    try:
        with Swarm(configure_telemetry=False, refresh=1.0) as swarm:
            deadline = time.monotonic() + 30  # a hang guard, not a speed target
            report = swarm.report()["ai"]
            while time.monotonic() < deadline and not (
                report["tool_errors"] and all(u["failed"] for u in report["agents"].values())
            ):
                swarm.run_for(0.2)
                report = swarm.report()["ai"]
        agents = report["agents"]
        assert set(agents) == set(MODELS)
        assert all(usage["calls"] > usage["failed"] > 0 for usage in agents.values())
        assert agents["planner"]["cost_usd"] > 0 < agents["researcher"]["cost_usd"]
        assert (agents["monitor"]["priced"], agents["monitor"]["cost_usd"]) == (False, 0)
        assert report["tool_calls"] > report["tool_errors"] > 0

        tokens = _points(reader, sc.GEN_AI_CLIENT_TOKEN_USAGE.name)
        assert {p[sc.GEN_AI_AGENT_ID] for p in tokens} == set(MODELS)
        unpriced = _points(reader, sc.AGENT_MODEL_UNPRICED.name)
        assert {p[sc.GEN_AI_REQUEST_MODEL] for p in unpriced} == {UNPRICED_MODEL}
        tools = _points(reader, sc.AGENT_TOOL_CALLS.name)
        assert {p.get(sc.ERROR_TYPE) for p in tools} == {None, "ToolFailed"}
        conversations = _points(reader, sc.AGENT_CONVERSATION_COST.name)
        assert {p[sc.GEN_AI_AGENT_ID] for p in conversations} >= {"planner"}
    finally:
        reset_default_telemetry()
        provider.shutdown()


@pytest.mark.integration
@pytest.mark.parametrize(
    ("export", "problem"),
    [
        ("afile", "that is a file, not a folder"),
        ("afile/sub", "cannot create the folder (Not a directory)"),
    ],
)
def test_an_export_folder_that_cannot_be_made_exits_2_with_one_line_before_the_run(
    tmp_path: Path, export: str, problem: str
) -> None:
    """Not a traceback after the whole run: the folder is checked before the swarm starts."""
    (tmp_path / "afile").write_text("")
    result = _demo(tmp_path, "30", export)

    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr == (
        f"otel-agents demo: --export={export!r}: {problem}; pass a writable directory "
        "(made if missing)\n"
    )
    assert "Running 3 agents" not in result.stdout  # --duration 30 was never started


@pytest.mark.integration
def test_an_export_that_fails_after_the_run_exits_2_with_one_line(tmp_path: Path) -> None:
    """A file that cannot be replaced (here a folder in its place) is found only when
    written, after the run: still one line naming it, exit 2, no temporary file left."""
    (tmp_path / "out" / "metrics.json").mkdir(parents=True)
    result = _demo(tmp_path, "0.5", "out")

    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith("otel-agents demo: cannot write the export to ")
    assert "metrics.json" in result.stderr
    assert result.stderr.count("\n") == 1
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["metrics.json"]
