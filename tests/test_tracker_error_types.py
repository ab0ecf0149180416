"""An ``error_count``'s ``context["error_type"]`` is ``error.type`` on ``agent.errors``, bounded.

The Agent performance board's "Errors per second" splits by ``error.type``, which the tracker
never set: every error landed in one unlabelled series.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from otel_agents import semconv
from otel_agents._error_types import MAX_ERROR_TYPES
from otel_agents._prometheus_names import prometheus_label_name
from otel_agents._tracker import PerformanceTracker
from otel_agents.testing import TelemetryCapture

DASHBOARDS = Path(__file__).resolve().parents[1] / "grafana" / "dashboards"
BOARD = DASHBOARDS / "otel-agents-performance.json"


@pytest.fixture
def tracker(telemetry: TelemetryCapture):
    tracker = PerformanceTracker({"snapshot_interval": 0}, meter_provider=telemetry.meter_provider)
    yield tracker
    tracker.stop()


def _errors(telemetry: TelemetryCapture) -> dict[str | None, int]:
    """``{error.type: count}`` of agent.errors (None: no error.type)."""
    return {
        point.attributes.get(semconv.ERROR_TYPE): point.value
        for point in telemetry.metric("agent.errors").data.data_points
    }


def test_an_error_type_becomes_the_error_type_attribute(
    tracker: PerformanceTracker, telemetry: TelemetryCapture
) -> None:
    tracker.record_metric("error_count", 1, "planner", {"error_type": "TimeoutError"})
    tracker.record_metric("error_count", 2, "planner", {"error_type": "TimeoutError"})
    tracker.record_metric("error_count", 1, "planner", {"error_type": "openai.RateLimitError"})
    tracker.record_metric("error_count", 1, "planner")

    (point, *_) = telemetry.metric("agent.errors").data.data_points
    assert dict(point.attributes) == {"gen_ai.agent.id": "planner", "error.type": "TimeoutError"}
    assert _errors(telemetry) == {"TimeoutError": 3, "openai.RateLimitError": 1, None: 1}
    assert tracker.get_metrics("error_count")[0].context == {"error_type": "TimeoutError"}


def test_only_agent_errors_carries_it(
    tracker: PerformanceTracker, telemetry: TelemetryCapture
) -> None:
    tracker.record_metric("request_count", 1, "planner", {"error_type": "TimeoutError"})

    (point,) = telemetry.metric("agent.requests").data.data_points
    assert dict(point.attributes) == {"gen_ai.agent.id": "planner"}


@pytest.mark.parametrize(
    "bad",
    ["Timeout Error", "x" * 65, "", "caf\u00e9", "a\nb", 404, None, ["TimeoutError"], {"a": 1}],
)
def test_an_error_type_that_is_not_a_short_identifier_is_other(
    tracker: PerformanceTracker, telemetry: TelemetryCapture, bad: object
) -> None:
    tracker.record_metric("error_count", 1, "planner", {"error_type": bad})

    assert _errors(telemetry) == {"_OTHER": 1}


def test_past_the_limit_new_error_types_are_other_and_known_ones_stay(
    tracker: PerformanceTracker, telemetry: TelemetryCapture
) -> None:
    for n in range(MAX_ERROR_TYPES + 10):
        tracker.record_metric("error_count", 1, "planner", {"error_type": f"E{n}"})
    tracker.record_metric("error_count", 1, "planner", {"error_type": "E0"})

    counts = _errors(telemetry)
    assert len(counts) == MAX_ERROR_TYPES + 1
    assert counts["_OTHER"] == 10
    assert counts["E0"] == 2


def test_the_errors_panel_splits_only_by_labels_agent_errors_carries(
    tracker: PerformanceTracker, telemetry: TelemetryCapture
) -> None:
    tracker.record_metric("error_count", 1, "planner", {"error_type": "TimeoutError"})
    (point,) = telemetry.metric("agent.errors").data.data_points
    carried = {prometheus_label_name(key) for key in point.attributes}

    exprs = re.findall(r'"expr": "([^"]*agent_errors_total[^"]*)"', BOARD.read_text())
    by = {
        label.strip()
        for expr in exprs
        for group in re.findall(r"\bby \(([^)]*)\)", expr)
        for label in group.split(",")
    }

    assert exprs
    assert by
    assert by <= carried
