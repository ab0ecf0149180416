"""The OpenTelemetry SDK's own counters (``otel.sdk.*``) as Prometheus stores them.

``configure()`` turns them on (``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED``): every service's
SDK counts the spans, metric points and log records its OTLP exporters sent, with
``error.type`` (the exception class, ``ConnectionError`` for an unreachable Collector) on
those whose export failed, and the spans and log records its batch processors dropped
(``error.type`` ``queue_full``). They are exported like any other metric, with the service's
resource, so they arrive under the service's ``job`` (``service.namespace/service.name``).

The names are the SDK's (the constants of ``otel_agents.semconv``), the kinds and units the
SDK's instrument factories give them (``opentelemetry.semconv._incubating.metrics.
otel_metrics``); the Prometheus names come from the one derivation (``_prometheus_names``).

**Why a failure shows up late, and why plain ``rate()`` misses it.** While the Collector is
unreachable, the failure counts cannot reach it either: they wait in the SDK (cumulative
temporality keeps them) and arrive with the first export after the Collector is back. In
Prometheus the ``error_type`` series then *appears* with its final value and stays flat, and
``rate()``/``increase()`` never count a series' first value, so both read 0 for the whole
outage. :func:`lost` therefore counts a series that appeared within its window whole (the
topology test measured it: the failed series arrived within 10 s of the Collector's restart,
``rate`` and ``increase`` of it stayed 0).
"""

from __future__ import annotations

from dataclasses import dataclass

from otel_agents import semconv as sc
from otel_agents.semconv import InstrumentKind, MetricSpec

from .names import growth, label, metric, selector

__all__ = [
    "ERROR_TYPE",
    "LOSS_WINDOW",
    "SIGNALS",
    "SdkSignal",
    "exported",
    "failures",
    "lost",
    "lost_by",
]

#: The window of :func:`lost`: items lost in the 10 minutes before each point.
LOSS_WINDOW = "10m"
ERROR_TYPE = label(sc.ERROR_TYPE)


def _counter(name: str, unit: str, description: str) -> MetricSpec:
    return MetricSpec(name, InstrumentKind.COUNTER, unit, description)


@dataclass(frozen=True)
class SdkSignal:
    """One signal's SDK counters: what its exporter sent or failed, what its queue dropped."""

    item: str  # as the Collector names it: spans, metric_points, log_records
    exporter: MetricSpec
    processor: MetricSpec | None  # metrics have no batch processor

    def specs(self) -> tuple[MetricSpec, ...]:
        return (self.exporter,) if self.processor is None else (self.exporter, self.processor)


SIGNALS = (
    SdkSignal(
        "spans",
        _counter(sc.OTEL_SDK_EXPORTER_SPAN_EXPORTED, "{span}", "Spans an exporter sent."),
        _counter(sc.OTEL_SDK_PROCESSOR_SPAN_PROCESSED, "{span}", "Spans a processor handled."),
    ),
    SdkSignal(
        "metric_points",
        _counter(
            sc.OTEL_SDK_EXPORTER_METRIC_DATA_POINT_EXPORTED,
            "{data_point}",
            "Metric data points an exporter sent.",
        ),
        None,
    ),
    SdkSignal(
        "log_records",
        _counter(sc.OTEL_SDK_EXPORTER_LOG_EXPORTED, "{log_record}", "Log records sent."),
        _counter(sc.OTEL_SDK_PROCESSOR_LOG_PROCESSED, "{log_record}", "Log records handled."),
    ),
)


def exported(signal: SdkSignal) -> str:
    """The series of items ``signal``'s exporters delivered (no ``error_type``)."""
    return selector(metric(signal.exporter), {sc.ERROR_TYPE: ""})


def failures(signal: SdkSignal) -> dict[str, str]:
    """The series of items ``signal``'s SDK lost, by OpenTelemetry metric name: failed
    exports, then items dropped from a full queue."""
    return {spec.name: selector(metric(spec), {sc.ERROR_TYPE: "!="}) for spec in signal.specs()}


def lost(series: str, window: str = LOSS_WINDOW) -> str:
    """Items counted by the counter ``series`` in the ``window`` before each point.

    The growth over the window, or the whole value of a series that did not exist at the
    window's start (module docstring: that is how a failure of an outage arrives):
    :func:`.names.growth`, the helper of every failure-counter rule.
    """
    return growth(series, window)


def lost_by(signals: tuple[SdkSignal, ...] = SIGNALS, window: str = LOSS_WINDOW) -> str:
    """The lost items of ``signals`` summed per ``job``. Each family is labelled with its
    metric name inside the union, so that no two families' series can share a labelset."""
    parts = [
        f'label_replace({lost(series, window)}, "family", "{name}", "", "")'
        for signal in signals
        for name, series in failures(signal).items()
    ]
    return f"sum by (job) ({' or '.join(parts)})"
