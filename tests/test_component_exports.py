"""The profiler and messaging export JSON like the tracker and the dashboard do."""

from __future__ import annotations

import json
from pathlib import Path

from otel_agents.messaging import AgentCommunicationProtocol, MessageType
from otel_agents.profiler import PerformanceProfiler


def test_profiler_exports_its_summary_profiles_and_snapshots(tmp_path: Path) -> None:
    profiler = PerformanceProfiler({"snapshot_interval": 0})
    with profiler.profile("plan_step", context={"api_key": "s3cret", "step": 1}):
        pass
    profiler.take_system_snapshot()
    path = profiler.export_profiles(tmp_path / "profiles.json")
    data = json.loads(path.read_text())
    assert data["kind"] == "profiles"
    assert data["summary"]["profiles"]["plan_step"]["count"] == 1
    (profile,) = data["profiles"]
    assert profile["name"] == "plan_step"
    assert len(data["system_snapshots"]) == 1
    assert "s3cret" not in path.read_text()


def test_messaging_exports_history_and_agents_without_payloads(tmp_path: Path) -> None:
    comm = AgentCommunicationProtocol()
    try:
        comm.register_agent("planner", "Planner", ["planning"], "inproc://planner")
        comm.register_agent("worker", "Worker", ["work"], "inproc://worker")
        comm.send_message("planner", "worker", MessageType.TASK_ASSIGNMENT, {"token": "s3cret"})
        comm.process_pending("worker")
        path = comm.export_messages(tmp_path / "messages.json")
    finally:
        comm.stop()
    data = json.loads(path.read_text())
    assert data["kind"] == "messages"
    (record,) = data["messages"]
    assert (record["sender_id"], record["recipient_id"]) == ("planner", "worker")
    assert record["status"] == "processed"
    assert {a["agent_id"] for a in data["agents"]} == {"planner", "worker"}
    assert "s3cret" not in path.read_text()
