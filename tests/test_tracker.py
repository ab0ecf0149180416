from __future__ import annotations

import errno
import json
import logging
import math
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from otel_agents import semconv
from otel_agents._errors import (
    ConfigurationError,
    ExportError,
    InvalidTypeError,
    InvalidValueError,
    OtelAgentsError,
)
from otel_agents._tracker import MetricType, PerformanceSnapshot, PerformanceTracker
from otel_agents.testing import TelemetryCapture


@pytest.fixture
def tracker(telemetry: TelemetryCapture):
    tracker = PerformanceTracker({"snapshot_interval": 0}, meter_provider=telemetry.meter_provider)
    yield tracker
    tracker.stop()


def test_seed_tracker_example_runs_unchanged(telemetry: TelemetryCapture) -> None:
    """Section 1 of the seed, bar the import line and the injected provider."""
    tracker = PerformanceTracker(
        {"max_metrics_history": 10000, "snapshot_interval": 60},
        meter_provider=telemetry.meter_provider,
    )
    tracker.record_metric(
        MetricType.RESPONSE_TIME, 0.5, agent_id="agent_1", context={"operation": "data_processing"}
    )
    summary = tracker.get_agent_performance_summary("agent_1")
    tracker.stop()

    assert summary["agent_id"] == "agent_1"
    assert summary["metrics"]["response_time"]["count"] == 1
    assert summary["metrics"]["response_time"]["mean"] == 0.5


def test_seed_string_metric_type_is_accepted(tracker: PerformanceTracker) -> None:
    tracker.record_metric("response_time", 0.5, agent_id="my_agent")
    assert [m.metric_type for m in tracker.get_metrics()] == [MetricType.RESPONSE_TIME]


def test_response_time_is_a_seconds_histogram_with_agent_and_operation(
    tracker: PerformanceTracker, telemetry: TelemetryCapture
) -> None:
    tracker.record_metric(
        MetricType.RESPONSE_TIME, 0.25, agent_id="planner", context={"operation": "plan"}
    )

    metric = telemetry.metric("agent.response.duration")
    (point,) = metric.data.data_points
    assert metric.unit == "s"
    assert dict(point.attributes) == {
        "gen_ai.agent.id": "planner",
        "agent.operation": "plan",
    }
    assert point.count == 1
    assert point.sum == 0.25
    assert tuple(point.explicit_bounds) == semconv.DURATION_BUCKETS


def test_every_metric_type_maps_to_its_instrument_and_unit(
    tracker: PerformanceTracker, telemetry: TelemetryCapture
) -> None:
    for metric_type in MetricType:
        tracker.record_metric(metric_type, 1, agent_id="a")

    recorded = telemetry.metrics()
    for metric_type in MetricType:
        spec = metric_type.spec
        assert recorded[spec.name].unit == spec.unit, metric_type
    assert recorded["agent.cpu.usage"].unit == "%"
    assert recorded["agent.memory.usage"].unit == "By"


def test_counts_are_added_to_a_monotonic_counter(
    tracker: PerformanceTracker, telemetry: TelemetryCapture
) -> None:
    tracker.record_metric(MetricType.REQUEST_COUNT, 2, agent_id="a")
    tracker.record_metric(MetricType.REQUEST_COUNT, 3, agent_id="a")

    metric = telemetry.metric("agent.requests")
    assert metric.data.is_monotonic
    assert metric.data.data_points[0].value == 5


def test_gauges_keep_the_last_value(
    tracker: PerformanceTracker, telemetry: TelemetryCapture
) -> None:
    tracker.record_metric(MetricType.CPU_USAGE, 40.0, agent_id="a")
    tracker.record_metric(MetricType.CPU_USAGE, 75.5, agent_id="a")

    assert telemetry.points("agent.cpu.usage")[0].value == 75.5


def test_only_allow_listed_string_context_keys_become_attributes(
    tracker: PerformanceTracker, telemetry: TelemetryCapture
) -> None:
    tracker.record_metric(
        MetricType.RESPONSE_TIME,
        0.1,
        agent_id="a",
        context={"operation": "plan", "request_id": "r-123", "batch_size": 1000},
    )

    (point,) = telemetry.points("agent.response.duration")
    assert set(point.attributes) == {"gen_ai.agent.id", "agent.operation"}
    (record,) = tracker.get_metrics()
    assert record.context == {"operation": "plan", "request_id": "r-123", "batch_size": 1000}


def test_metric_attribute_keys_promotes_more_context_keys(telemetry: TelemetryCapture) -> None:
    tracker = PerformanceTracker(
        {"snapshot_interval": 0, "metric_attribute_keys": ["operation", "tier"]},
        meter_provider=telemetry.meter_provider,
    )
    tracker.record_metric("response_time", 0.1, agent_id="a", context={"tier": "gold"})

    (point,) = telemetry.points("agent.response.duration")
    assert point.attributes["agent.context.tier"] == "gold"


def test_secret_looking_context_and_metadata_values_are_redacted_in_history(
    tracker: PerformanceTracker, tmp_path: Path
) -> None:
    secret = "s3cr3t-canary-0001"
    tracker.record_metric(
        "response_time",
        0.1,
        agent_id="a",
        context={"api_key": secret, "nested": {"password": secret}},
        metadata={"Authorization": f"Bearer {secret}"},
    )

    (record,) = tracker.get_metrics()
    assert record.context == {"api_key": "[REDACTED]", "nested": {"password": "[REDACTED]"}}
    assert record.metadata == {"Authorization": "[REDACTED]"}
    path = tracker.export_metrics(tmp_path / "metrics.json")
    assert secret not in path.read_text()


def test_a_secret_looking_key_cannot_become_a_metric_attribute() -> None:
    with pytest.raises(ConfigurationError, match="'session_token' looks like a secret"):
        PerformanceTracker({"metric_attribute_keys": ["operation", "session_token"]})


def test_secrets_inside_lists_and_deep_nesting_are_redacted_in_history_and_exports(
    tracker: PerformanceTracker, tmp_path: Path
) -> None:
    secret = "s3cr3t-canary-0002"
    deep: dict[str, object] = {"token": secret}
    for _ in range(100):
        deep = {"level": [deep]}
    tracker.record_metric(
        "response_time",
        0.1,
        agent_id="a",
        context={
            "calls": [{"url": "https://api", "headers": {"Authorization": secret}}],
            "pairs": ({"api_key": secret}, "kept"),
            "deep": deep,
        },
    )

    (record,) = tracker.get_metrics()
    assert record.context is not None
    assert record.context["calls"] == [
        {"url": "https://api", "headers": {"Authorization": "[REDACTED]"}}
    ]
    assert record.context["pairs"] == ({"api_key": "[REDACTED]"}, "kept")
    assert secret not in repr(record.context)
    path = tracker.export_metrics(tmp_path / "metrics.json")
    assert secret not in path.read_text()


@pytest.mark.parametrize(
    ("value", "error", "fragment"),
    [
        (math.nan, InvalidValueError, "value=nan"),
        (math.inf, InvalidValueError, "value=inf"),
        (-0.5, InvalidValueError, "value=-0.5"),
        ("fast", InvalidTypeError, "value='fast'"),
        (None, InvalidTypeError, "value=None"),
        (True, InvalidTypeError, "value=True"),
    ],
)
def test_bad_values_raise_naming_the_argument_and_change_nothing(
    tracker: PerformanceTracker, value: object, error: type[Exception], fragment: str
) -> None:
    tracker.record_metric("response_time", 0.5, agent_id="a")

    with pytest.raises(error, match=fragment) as caught:
        tracker.record_metric("response_time", value, agent_id="a")  # type: ignore[arg-type]

    assert isinstance(caught.value, OtelAgentsError)
    assert len(tracker.get_metrics()) == 1


def test_percentages_above_100_are_rejected(tracker: PerformanceTracker) -> None:
    with pytest.raises(InvalidValueError, match="percentage from 0 to 100"):
        tracker.record_metric(MetricType.CPU_USAGE, 150.0)


def test_unknown_metric_type_lists_the_valid_choices(tracker: PerformanceTracker) -> None:
    with pytest.raises(InvalidValueError, match=r"metric_type=.latency..*response_time"):
        tracker.record_metric("latency", 0.5)
    with pytest.raises(ValueError, match="metric_type"):
        tracker.record_metric("latency", 0.5)


@pytest.mark.parametrize("agent_id", [42, b"agent", ""])
def test_agent_id_must_be_a_non_empty_string(tracker: PerformanceTracker, agent_id: object) -> None:
    with pytest.raises((InvalidTypeError, InvalidValueError), match="agent_id="):
        tracker.record_metric("response_time", 0.5, agent_id=agent_id)  # type: ignore[arg-type]
    assert tracker.get_metrics() == []


def test_bad_metric_is_not_exported(
    tracker: PerformanceTracker, telemetry: TelemetryCapture
) -> None:
    with pytest.raises(InvalidValueError):
        tracker.record_metric("response_time", -1.0, agent_id="a")
    assert "agent.response.duration" not in telemetry.metrics()


def test_history_is_bounded_by_max_metrics_history(telemetry: TelemetryCapture) -> None:
    tracker = PerformanceTracker(
        {"max_metrics_history": 100, "snapshot_interval": 0},
        meter_provider=telemetry.meter_provider,
    )
    for i in range(1000):
        tracker.record_metric("queue_size", i, agent_id="a")

    values = [m.value for m in tracker.get_metrics()]
    assert values == list(range(900, 1000))


def test_get_metrics_filters_by_type_agent_and_time_range(tracker: PerformanceTracker) -> None:
    tracker.record_metric("response_time", 0.1, agent_id="a")
    tracker.record_metric("cpu_usage", 10, agent_id="a")
    tracker.record_metric("response_time", 0.2, agent_id="b")

    assert [m.value for m in tracker.get_metrics(metric_type="response_time")] == [0.1, 0.2]
    assert [m.value for m in tracker.get_metrics(agent_id="a")] == [0.1, 10]
    assert len(tracker.get_metrics(time_range=timedelta(minutes=5))) == 3
    future = datetime.now() + timedelta(hours=1)
    assert tracker.get_metrics(time_range=(future, None)) == []


def test_summary_has_count_min_max_mean_and_percentiles(tracker: PerformanceTracker) -> None:
    for value in range(1, 101):
        tracker.record_metric("response_time", value / 100, agent_id="a")

    stats = tracker.get_agent_performance_summary("a")["metrics"]["response_time"]
    assert stats["count"] == 100
    assert stats["min"] == 0.01
    assert stats["max"] == 1.0
    assert stats["mean"] == pytest.approx(0.505)
    assert stats["p50"] == pytest.approx(0.505)
    assert stats["p95"] == pytest.approx(0.9505)
    assert stats["p99"] == pytest.approx(0.9901)
    assert stats["unit"] == "s"


def test_summary_of_an_unknown_agent_is_empty(tracker: PerformanceTracker) -> None:
    assert tracker.get_agent_performance_summary("nobody") == {
        "agent_id": "nobody",
        "total_metrics": 0,
        "metrics": {},
    }


def test_callbacks_see_each_record_and_a_raising_one_is_logged_once(
    tracker: PerformanceTracker, caplog: pytest.LogCaptureFixture
) -> None:
    seen = []

    def broken(metric: object) -> None:
        raise RuntimeError("boom")

    tracker.add_callback(broken)
    tracker.add_callback(seen.append)
    with caplog.at_level(logging.ERROR, logger="otel_agents._tracker"):
        tracker.record_metric("response_time", 0.1, agent_id="a")
        tracker.record_metric("response_time", 0.2, agent_id="a")

    assert [m.value for m in seen] == [0.1, 0.2]
    assert len([r for r in caplog.records if "raised" in r.getMessage()]) == 1
    tracker.remove_callback(seen.append)
    tracker.record_metric("response_time", 0.3, agent_id="a")
    assert len(seen) == 2


def test_export_writes_json_with_metadata(tracker: PerformanceTracker, tmp_path: Path) -> None:
    tracker.record_metric("response_time", 0.5, agent_id="a", context={"operation": "x"})
    tracker.take_snapshot()

    path = tracker.export_metrics(tmp_path / "metrics.json")

    data = json.loads(path.read_text())
    assert data["kind"] == "metrics"
    assert data["generator"].startswith("otel-agents ")
    datetime.fromisoformat(data["exported_at"])
    assert data["metric_count"] == 1
    assert data["metrics"][0] == {
        "metric_type": "response_time",
        "value": 0.5,
        "unit": "s",
        "timestamp": data["metrics"][0]["timestamp"],
        "agent_id": "a",
        "context": {"operation": "x"},
        "metadata": {},
    }
    assert data["snapshots"][0]["agents"]["a"]["response_time"]["count"] == 1


def test_failed_export_raises_and_keeps_the_previous_file(
    tracker: PerformanceTracker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "metrics.json"
    target.write_text('{"old": true}')
    tracker.record_metric("response_time", 0.5, agent_id="a")

    with pytest.raises(ExportError, match="missing"):
        tracker.export_metrics(tmp_path / "missing" / "metrics.json")

    def disk_full(src: str, dst: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("otel_agents._export.os.replace", disk_full)
    with pytest.raises(ExportError, match=r"metrics\.json.*No space left.*unchanged"):
        tracker.export_metrics(target)

    assert target.read_text() == '{"old": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_snapshots_run_in_the_background_and_stop_cleanly(
    telemetry: TelemetryCapture, tmp_path: Path
) -> None:
    export = tmp_path / "snapshots.json"
    tracker = PerformanceTracker(
        {"snapshot_interval": 0.01, "snapshot_export_path": str(export)},
        meter_provider=telemetry.meter_provider,
    )
    tracker.record_metric("response_time", 0.5, agent_id="a")

    # The first snapshot may be taken before the record (the thread starts with the tracker):
    # wait for one that has it.
    def with_agent() -> list[PerformanceSnapshot]:
        return [s for s in tracker.get_snapshots() if "a" in s.agents]

    deadline = time.monotonic() + 5
    while not with_agent() and time.monotonic() < deadline:
        time.sleep(0.01)
    tracker.stop()
    tracker.stop()

    assert with_agent()
    assert not any(t.name == "otel-agents-tracker-snapshots" for t in threading.enumerate())
    exported = json.loads(export.read_text())["snapshots"]
    assert any(s["agents"].get("a", {}).get("response_time") for s in exported)


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"max_metrics_histroy": 5}, "max_metrics_histroy.*valid keys"),
        ({"max_metrics_history": 0}, "max_metrics_history"),
        ({"max_metrics_history": "lots"}, "max_metrics_history"),
        ({"snapshot_interval": -1}, "snapshot_interval"),
        ({"metric_retention_days": math.nan}, "metric_retention_days"),
    ],
)
def test_bad_config_raises_configuration_error(
    telemetry: TelemetryCapture, config: dict[str, object], fragment: str
) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        PerformanceTracker(config, meter_provider=telemetry.meter_provider)


def test_keys_of_other_components_in_a_shared_config_are_ignored(
    telemetry: TelemetryCapture,
) -> None:
    """The seed passes one dict to every component (Advanced Configuration)."""
    config = {"max_metrics_history": 50000, "snapshot_interval": 30, "heartbeat_interval": 15}
    tracker = PerformanceTracker(config, meter_provider=telemetry.meter_provider)
    tracker.stop()
    assert tracker.config["max_metrics_history"] == 50000


def test_concurrent_recording_loses_nothing(
    tracker: PerformanceTracker, telemetry: TelemetryCapture
) -> None:
    def work() -> None:
        for _ in range(500):
            tracker.record_metric("request_count", 1, agent_id="a")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert telemetry.points("agent.requests")[0].value == 4000
    assert len(tracker.get_metrics()) == 4000


class _FixedClock:
    """A clock that stands still until moved."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


def test_an_injected_clock_stamps_records_snapshots_and_time_ranges(
    telemetry: TelemetryCapture,
) -> None:
    clock = _FixedClock(1_000_000.0)
    tracker = PerformanceTracker(
        {"snapshot_interval": 0, "metric_retention_days": 1},
        meter_provider=telemetry.meter_provider,
        clock=clock,
    )
    old = tracker.record_metric("response_time", 0.1, agent_id="a")
    clock.now += 120.0
    new = tracker.record_metric("response_time", 0.2, agent_id="a")
    assert (old.timestamp, new.timestamp) == (1_000_000.0, 1_000_120.0)
    assert tracker.get_metrics(time_range=60) == [new]  # the last 60 s of the fake clock
    assert tracker.take_snapshot().timestamp == 1_000_120.0
    clock.now += 2 * 86_400.0  # past the retention
    assert tracker.get_metrics() == []
