"""The profiler and messaging export JSON like the tracker and the dashboard do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from otel_agents._profiler import PerformanceProfiler
from otel_agents.messaging import AgentCommunicationProtocol, MessageType


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


def test_profiler_custom_metrics_carry_tags_and_keep_context(tmp_path: Path) -> None:
    profiler = PerformanceProfiler({"snapshot_interval": 0})
    try:
        profiler.record_metric(
            "tokens_used", 120, tags={"model": "small", "api_key": "s3cret"}, context={"run": 7}
        )
        profiler.record_metric("tokens_used", 80, tags={"model": "small"})
        summary = profiler.get_profiling_summary()["custom_metrics"]["tokens_used"]
        assert (summary["count"], summary["sum"]) == (2, 200)
        data = json.loads(profiler.export_profiles(tmp_path / "p.json").read_text())
        first = data["custom_metrics"][0]
        assert (first["tags"], first["context"]) == ({"model": "small"}, {"run": 7})
        assert "s3cret" not in json.dumps(data)
    finally:
        profiler.stop()


def test_profiler_custom_metric_tag_values_lose_url_credentials(tmp_path: Path) -> None:
    """A tag's value is as secret as its key: a DSN under ``db`` keeps no password in the
    history, the summary or the export."""
    profiler = PerformanceProfiler({"snapshot_interval": 0})
    try:
        profiler.record_metric("rows", 3, tags={"db": "postgres://app:S3CRET@db/prod"})
        data = json.loads(profiler.export_profiles(tmp_path / "p.json").read_text())
        (record,) = data["custom_metrics"]
        assert "S3CRET" not in json.dumps(data)
        assert record["tags"]["db"].startswith("postgres://")
        assert record["tags"]["db"].endswith("@db/prod")
    finally:
        profiler.stop()


def test_profiler_custom_metrics_refuse_unbounded_tags_and_bad_values() -> None:
    from otel_agents._errors import InvalidTypeError, InvalidValueError

    profiler = PerformanceProfiler({"snapshot_interval": 0})
    with pytest.raises(InvalidValueError, match="tags"):
        profiler.record_metric("x", 1, tags={f"t{n}": n for n in range(9)})
    with pytest.raises(InvalidTypeError, match="tags"):
        profiler.record_metric("x", 1, tags={"nested": {"a": 1}})
    with pytest.raises(InvalidValueError, match="value"):
        profiler.record_metric("x", float("nan"))
    with pytest.raises(InvalidValueError, match="name"):
        profiler.record_metric("", 1)
    assert profiler.get_profiling_summary()["custom_metrics"] == {}
