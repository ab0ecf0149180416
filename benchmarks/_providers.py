"""SDK providers that do all the work of telemetry but export nowhere (for benchmarks).

Spans go through a BatchSpanProcessor and metrics through a periodic reader, as in
production, and the exporters drop what they get, so a benchmark measures the cost of
recording telemetry, not of a network or a console.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import Sampler


class DropSpans(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class DropMetrics(MetricExporter):
    def export(self, metrics_data: Any, timeout_millis: float = 0, **_: Any) -> MetricExportResult:
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 0) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 0, **_: Any) -> None:
        return None


def discarding_providers(
    *,
    sampler: Sampler | None = None,
    exemplars: bool = True,
    export_interval_millis: float = 5000,
) -> tuple[TracerProvider, MeterProvider]:
    """A TracerProvider and a MeterProvider whose exporters drop everything."""
    tracer_provider = TracerProvider(sampler=sampler)
    tracer_provider.add_span_processor(BatchSpanProcessor(DropSpans()))
    reader = PeriodicExportingMetricReader(
        DropMetrics(), export_interval_millis=export_interval_millis
    )
    options: dict[str, Any] = {}
    if not exemplars:
        options["exemplar_filter"] = AlwaysOffExemplarFilter()
    return tracer_provider, MeterProvider(metric_readers=[reader], **options)
