"""Helpers for testing agents instrumented with otel-agents.

:class:`TelemetryCapture` owns a TracerProvider and a MeterProvider that keep everything in
memory. Pass its providers to the components under test (every otel-agents component takes
``tracer_provider=`` and ``meter_provider=``) and assert on what was recorded::

    capture = TelemetryCapture()
    tracker = PerformanceTracker(meter_provider=capture.meter_provider)
    tracker.record_metric("response_time", 0.5, agent_id="planner")
    (point,) = capture.points("agent.response.duration")
    assert point.attributes["gen_ai.agent.id"] == "planner"

:class:`TelemetryCapture` never touches the global providers. Tests of code that calls
:func:`otel_agents.configure` (which sets them, once per process) call
:func:`reset_configure` after each test instead of starting a fresh interpreter (it needs
the ``testing`` extra).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Metric
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_agents._extras import import_for

__all__ = ["TelemetryCapture", "reset_configure"]


class TelemetryCapture:
    """In-memory span exporter and metric reader, with providers wired to them."""

    def __init__(
        self,
        *,
        resource: Resource | None = None,
        cardinality_limit: int | None = None,
    ) -> None:
        resource = resource or Resource.create({"service.name": "otel-agents-test"})
        self.span_exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider(resource=resource)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.span_exporter))
        limits: dict[type, int] | None = None
        if cardinality_limit is not None:
            from opentelemetry.sdk.metrics import Counter, Histogram, UpDownCounter, _Gauge

            limits = dict.fromkeys((Counter, Histogram, UpDownCounter, _Gauge), cardinality_limit)
        self.metric_reader = InMemoryMetricReader(cardinality_limits=limits)
        self.meter_provider = MeterProvider(resource=resource, metric_readers=[self.metric_reader])

    # -- spans -----------------------------------------------------------------------------
    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        """Finished spans, oldest first, optionally only those called ``name``."""
        spans = list(self.span_exporter.get_finished_spans())
        return spans if name is None else [span for span in spans if span.name == name]

    def span(self, name: str) -> ReadableSpan:
        """The one finished span called ``name``; fails if there are none or several."""
        found = self.spans(name)
        if len(found) != 1:
            names = [span.name for span in self.spans()]
            raise AssertionError(f"expected one span named {name!r}, found {len(found)}: {names}")
        return found[0]

    # -- metrics ---------------------------------------------------------------------------
    def metrics(self) -> dict[str, Metric]:
        """Collect now and return every metric by name."""
        data = self.metric_reader.get_metrics_data()
        found: dict[str, Metric] = {}
        if data is None:
            return found
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    found[metric.name] = metric
        return found

    def metric(self, name: str) -> Metric:
        """Collect now and return the metric called ``name``; fails if it was not recorded."""
        found = self.metrics()
        if name not in found:
            raise AssertionError(f"no metric named {name!r}; recorded: {sorted(found)}")
        return found[name]

    def points(self, name: str, attributes: Mapping[str, Any] | None = None) -> list[Any]:
        """Data points of metric ``name``, optionally those whose attributes include these."""
        points: list[Any] = list(self.metric(name).data.data_points)
        if attributes:
            points = [
                p
                for p in points
                if all((p.attributes or {}).get(k) == v for k, v in attributes.items())
            ]
        return points

    def reset(self) -> None:
        """Forget finished spans. (Cumulative metrics keep their totals.)"""
        self.span_exporter.clear()

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def reset_configure(timeout: float = 1.0) -> None:
    """Undo :func:`otel_agents.configure` so that the next test can call it again. Tests only.

    Stops what ``configure()`` built without exporting anything (its exporters are aborted
    first, so nothing waits for a Collector), closes its Prometheus server, removes its logging
    handler and atexit hook, forgets it, and clears OpenTelemetry's set-once global tracer,
    meter and logger providers. The last step is ``opentelemetry-test-utils``' (the API keeps
    those globals private; its own test utilities are the supported way to reset them), so it
    needs the ``testing`` extra: ``pip install 'otel-agents[testing]'``.

    Args:
        timeout: seconds the stop may take.

    Raises:
        MissingDependencyError: the ``testing`` extra is not installed (checked before
            anything is stopped).
    """
    globals_test = import_for(
        "opentelemetry.test.globals_test", "testing", "otel_agents.testing.reset_configure()"
    )

    from otel_agents import _config

    _config._forget(timeout)
    globals_test.reset_trace_globals()
    globals_test.reset_metrics_globals()
    globals_test.reset_logging_globals()
