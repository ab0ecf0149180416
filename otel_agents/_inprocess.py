"""The SDK's own metrics, read in this process: one source of truth for the dashboard.

Every component (tracker, profiler, messaging, gateway, any other OTel instrumentation)
records through the OpenTelemetry API only. :class:`InProcessMetrics` is a
:class:`~opentelemetry.sdk.metrics.export.MetricReader` registered on the same
``MeterProvider`` as the exporters, so the dashboard, ``get_dashboard_data()``, the terminal
and the JSON export read the very aggregates the exporters send, never a second copy.

Why it is opt-in: the SDK aggregates every measurement once per registered reader, so a
reader that is always there costs every ``add()``/``record()`` in the process even when no
dashboard ever looks. :func:`otel_agents.configure` registers one only when asked
(``configure(dashboard=True)`` or ``OTEL_AGENTS_DASHBOARD=true``); the terminal dashboard and
the demo ask. Without it, a dashboard shows what the tracker kept and says
``"telemetry": {"available": false}``. ``benchmarks/bench_inprocess.py`` measures the cost.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    InMemoryMetricReader,
    MetricsData,
    Sum,
)

from otel_agents._logs import redacting_logger
from otel_agents._runtime import FailureLog, failsafe_call
from otel_agents._version import scope_name

__all__ = ["InProcessMetrics", "MetricPoint", "installed_reader", "set_installed_reader"]

_logger = redacting_logger(scope_name(__name__))
_failures = FailureLog(_logger, "in-process metrics: %s failed; shown as empty (logged once)")

#: ``(attributes, value)``: a sum's or gauge's value, or a histogram's ``{count, sum, min, max}``.
MetricPoint = tuple[dict[str, Any], Any]


class InProcessMetrics(InMemoryMetricReader):
    """A pull reader whose :meth:`snapshot` flattens the SDK's aggregates by metric name.

    Cumulative temporality (the default), so each snapshot holds totals since start and two
    readers of the snapshot (the dashboard loop and a user's ``get_dashboard_data()``)
    never steal each other's deltas.
    """

    def __init__(self) -> None:
        super().__init__()
        self._snapshot_lock = threading.Lock()

    def snapshot(self) -> dict[str, list[MetricPoint]]:
        """Collect now: ``{metric name: [(attributes, value), ...]}`` over every scope.

        Failsafe: a collection that raises (a user's observable callback, a shut-down
        provider) is logged once and reads as empty.
        """
        with self._snapshot_lock:
            data = failsafe_call(
                self.get_metrics_data, failures=_failures, key="collecting", default=None
            )
        return flatten(data)


def flatten(data: MetricsData | None) -> dict[str, list[MetricPoint]]:
    """The points of every metric in ``data``, by name (several scopes' points are merged)."""
    found: dict[str, list[MetricPoint]] = {}
    if data is None:
        return found
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                points = found.setdefault(metric.name, [])
                series = metric.data
                for point in series.data_points:
                    attributes = dict(point.attributes or {})
                    if isinstance(series, Histogram):
                        value: Any = {
                            "count": point.count,  # type: ignore[union-attr]
                            "sum": point.sum,  # type: ignore[union-attr]
                            "min": point.min,  # type: ignore[union-attr]
                            "max": point.max,  # type: ignore[union-attr]
                        }
                    elif isinstance(series, Sum | Gauge):
                        value = point.value  # type: ignore[union-attr]
                    else:  # exponential histograms: their count and sum are what we show
                        value = {
                            "count": getattr(point, "count", 0),
                            "sum": getattr(point, "sum", 0.0),
                        }
                    points.append((attributes, value))
    return found


def total(points: list[MetricPoint], where: Mapping[str, Any] | None = None) -> float:
    """Sum of sum/gauge values (or histogram counts) over points matching ``where``."""
    result = 0.0
    for attributes, value in points:
        if where and any(attributes.get(k) != v for k, v in where.items()):
            continue
        result += value["count"] if isinstance(value, dict) else value
    return result


_installed: InProcessMetrics | None = None


def installed_reader() -> InProcessMetrics | None:
    """The reader :func:`otel_agents.configure` registered (``dashboard=True``), if any."""
    return _installed


def set_installed_reader(reader: InProcessMetrics | None) -> None:
    """Record the reader configure() registered (``None`` on shutdown)."""
    global _installed
    _installed = reader
