"""Only string context values become metric attributes.

``metric_attribute_keys`` promotes context keys (``operation`` by default) to metric
attributes, which are labels: a string like ``"plan"`` is one, while a number would start a
new time series per value and a dict or list is no valid attribute at all. Those values are
kept in the history only, and never break the recording.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from otel_agents import semconv
from otel_agents._tracker import PerformanceTracker
from otel_agents.testing import TelemetryCapture


@pytest.fixture
def tracker(telemetry: TelemetryCapture) -> Iterator[PerformanceTracker]:
    tracker = PerformanceTracker(
        {"snapshot_interval": 0, "metric_attribute_keys": ["operation", "step"]},
        meter_provider=telemetry.meter_provider,
    )
    yield tracker
    tracker.stop()


def _attribute_sets(telemetry: TelemetryCapture) -> list[dict[str, Any]]:
    points = telemetry.points(semconv.AGENT_RESPONSE_DURATION.name)
    return [dict(point.attributes) for point in points]


def test_a_string_operation_is_a_metric_attribute(
    tracker: PerformanceTracker, telemetry: TelemetryCapture
) -> None:
    tracker.record_metric("response_time", 0.5, agent_id="a", context={"operation": "plan"})

    (attributes,) = _attribute_sets(telemetry)
    assert attributes[semconv.AGENT_OPERATION] == "plan"


@pytest.mark.parametrize(
    "value", [7, 2.5, True, {"step": 1}, ["a", "b"], None], ids=lambda v: type(v).__name__
)
def test_a_non_string_context_value_stays_out_of_the_metric_attributes(
    tracker: PerformanceTracker, telemetry: TelemetryCapture, value: object
) -> None:
    tracker.record_metric(
        "response_time", 0.5, agent_id="a", context={"operation": value, "step": value}
    )

    (attributes,) = _attribute_sets(telemetry)
    assert attributes == {semconv.GEN_AI_AGENT_ID: "a"}
    (record,) = tracker.get_metrics()
    assert record.context == {"operation": value, "step": value}
