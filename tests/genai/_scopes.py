"""Metric points by the instrumentation scope that recorded them (the GenAI histograms may
come from otel-agents' scope or from an instrumentation's, and must come from one only)."""

from __future__ import annotations

from typing import Any

from otel_agents.testing import TelemetryCapture


def points_of_every_scope(telemetry: TelemetryCapture, name: str) -> list[tuple[str, Any]]:
    """(instrumentation scope, point) of metric ``name`` from every scope that records it."""
    data = telemetry.metric_reader.get_metrics_data()
    assert data is not None
    return [
        (scope.scope.name, point)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]
