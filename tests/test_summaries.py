"""Summaries of values as large as the tracker and profiler accept never raise.

``record_metric`` takes values up to ``sys.float_info.max``; their sum may not fit in a float.
The mean stays finite (it is the mean of values that each fit), the sum is reported as
infinite, and every view built on them (snapshots, the dashboard, the profiler) carries on.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_agents._dashboard import PerformanceDashboard
from otel_agents._history import summarize
from otel_agents._profiler import PerformanceProfiler
from otel_agents._tracker import PerformanceTracker
from otel_agents.testing import TelemetryCapture

BIG = sys.float_info.max


@pytest.fixture
def tracker(telemetry: TelemetryCapture) -> Iterator[PerformanceTracker]:
    tracker = PerformanceTracker({"snapshot_interval": 0}, meter_provider=telemetry.meter_provider)
    yield tracker
    tracker.stop()


def test_a_sum_beyond_a_float_gives_an_infinite_sum_and_a_finite_mean() -> None:
    stats = summarize([BIG, BIG, BIG])

    assert stats["sum"] == math.inf
    assert (stats["mean"], stats["min"], stats["max"], stats["p50"]) == (BIG, BIG, BIG, BIG)
    negative = summarize([-BIG, -BIG])
    assert (negative["sum"], negative["mean"]) == (-math.inf, -BIG)
    whole = summarize([10**308, 10**308])  # ints the tracker accepts as counts
    assert (whole["sum"], whole["mean"]) == (math.inf, 1e308)


def test_percentiles_between_opposite_huge_values_stay_finite() -> None:
    stats = summarize([-BIG, BIG])

    assert (stats["sum"], stats["mean"], stats["p50"]) == (0.0, 0.0, 0.0)
    assert math.isclose(stats["p95"], 0.9 * BIG)


def test_ordinary_summaries_are_unchanged() -> None:
    stats = summarize([0.010, 0.020, 0.030, 0.040])

    assert stats["mean"] == math.fsum([0.010, 0.020, 0.030, 0.040]) / 4
    assert stats["p95"] == 0.030 + (0.040 - 0.030) * (3 * 0.95 - 2)


def test_huge_tracked_values_keep_summaries_snapshots_and_the_dashboard_working(
    tracker: PerformanceTracker, telemetry: TelemetryCapture, tmp_path: Path
) -> None:
    for kind in ("response_time", "request_count", "error_count"):
        tracker.record_metric(kind, BIG, agent_id="a1")
        tracker.record_metric(kind, BIG, agent_id="a1")

    summary = tracker.get_agent_performance_summary("a1")["metrics"]["response_time"]
    assert (summary["mean"], summary["sum"]) == (BIG, math.inf)
    snapshot = tracker.take_snapshot()
    assert snapshot.agents["a1"]["response_time"]["mean"] == BIG
    dashboard = PerformanceDashboard(
        tracker,
        config={"system_resources": False},
        meter_provider=telemetry.meter_provider,
        tracer_provider=telemetry.tracer_provider,
    )
    data = dashboard.get_dashboard_data()
    assert data["agents"]["a1"]["response_time"]["mean"] == BIG
    # Counts beyond a float give no error rate (unknown, so it costs the score nothing).
    assert data["agents"]["a1"]["error_rate_percent"] is None
    assert data["system"]["error_rate_percent"] is None
    exported = json.loads(tracker.export_metrics(tmp_path / "metrics.json").read_text())
    assert exported["snapshots"][0]["agents"]["a1"]["response_time"]["sum"] is None
    dashboard.export_dashboard_data(tmp_path / "dashboard.json")


def test_huge_custom_metrics_keep_the_profiling_summary_working(
    profiler: PerformanceProfiler, tmp_path: Path
) -> None:
    profiler.record_metric("tokens", BIG)
    profiler.record_metric("tokens", BIG)

    stats = profiler.get_profiling_summary()["custom_metrics"]["tokens"]

    assert (stats["mean"], stats["sum"]) == (BIG, math.inf)
    profiler.export_profiles(tmp_path / "profiles.json")
