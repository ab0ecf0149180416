"""``configure()`` and ``shutdown()``: the one place otel-agents builds SDK providers.

Library code (tracker, profiler, messaging, gateway) only ever asks the global providers, or
the ones passed to it, for tracers and meters. ``configure()`` is for applications that want
a working OpenTelemetry setup from the standard ``OTEL_*`` variables in one line; an
application that already set global providers keeps them.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry._logs import get_logger_provider, set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, ConsoleLogRecordExporter
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
    _Gauge,
)
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from otel_agents import _settings as s, semconv
from otel_agents.errors import ConfigurationError
from otel_agents.semconv import InstrumentKind

if TYPE_CHECKING:
    from otel_agents.system_metrics import SystemMetrics

__all__ = ["Telemetry", "configure", "get_telemetry", "shutdown"]

_logger = logging.getLogger("otel_agents")
_lock = threading.Lock()
_current: Telemetry | None = None


@dataclass
class Telemetry:
    """What :func:`configure` set up. ``None`` providers mean that signal is off."""

    resource: Resource
    tracer_provider: TracerProvider | None
    meter_provider: MeterProvider | None
    logger_provider: LoggerProvider | None
    settings: dict[str, Any] = field(default_factory=dict)
    system_metrics: SystemMetrics | None = None
    _prometheus_server: Any = None

    def shutdown(self) -> None:
        """Flush and stop everything this configuration started. Safe to call twice."""
        if self.system_metrics is not None:
            self.system_metrics.disable()
        for provider in (self.tracer_provider, self.meter_provider, self.logger_provider):
            if provider is None:
                continue
            try:
                provider.shutdown()
            except Exception:  # exporters must never break the host program
                _logger.warning("shutting down %s failed", type(provider).__name__, exc_info=True)
        if self._prometheus_server is not None:
            self._prometheus_server.shutdown()
            self._prometheus_server.server_close()
            self._prometheus_server = None


def configure(
    *,
    service_name: str | None = None,
    resource_attributes: dict[str, str] | None = None,
    traces_exporter: str | Sequence[str] | None = None,
    metrics_exporter: str | Sequence[str] | None = None,
    logs_exporter: str | Sequence[str] | None = None,
    otlp_protocol: str | None = None,
    otlp_endpoint: str | None = None,
    otlp_headers: dict[str, str] | None = None,
    otlp_timeout: float | None = None,
    metric_export_interval: float | None = None,
    sampler: str | None = None,
    sampler_arg: float | None = None,
    system_metrics: bool | None = None,
    cardinality_limit: int | None = None,
    prometheus_host: str | None = None,
    prometheus_port: int | None = None,
    span_processors: Sequence[SpanProcessor] = (),
    metric_readers: Sequence[MetricReader] = (),
    disabled: bool | None = None,
) -> Telemetry | None:
    """Set up OpenTelemetry tracing, metrics and logs from ``OTEL_*`` variables.

    Idempotent and thread-safe: the first call builds the providers and sets them as the
    global ones; later calls return the same :class:`Telemetry` (with a warning if they ask
    for something different). Call :func:`shutdown` to flush and stop. If the application
    already set its own global providers, they are kept and only the missing ones are made.

    Args:
        service_name: ``service.name``; reads ``OTEL_SERVICE_NAME``.
        resource_attributes: extra resource attributes; merged over
            ``OTEL_RESOURCE_ATTRIBUTES``. ``service.instance.id`` defaults to a random UUID.
        traces_exporter: ``otlp``, ``console`` or ``none`` (or a list); reads
            ``OTEL_TRACES_EXPORTER``.
        metrics_exporter: ``otlp``, ``prometheus``, ``console`` or ``none``; reads
            ``OTEL_METRICS_EXPORTER``.
        logs_exporter: ``otlp``, ``console`` or ``none``; reads ``OTEL_LOGS_EXPORTER``.
        otlp_protocol: ``grpc`` or ``http/protobuf``; reads ``OTEL_EXPORTER_OTLP_PROTOCOL``
            and its per-signal variants.
        otlp_endpoint: base endpoint for all signals; the exporters otherwise read
            ``OTEL_EXPORTER_OTLP_ENDPOINT`` and its per-signal variants.
        otlp_headers: headers for every OTLP request; otherwise ``OTEL_EXPORTER_OTLP_HEADERS``.
        otlp_timeout: seconds; reads ``OTEL_EXPORTER_OTLP_TIMEOUT`` (milliseconds).
        metric_export_interval: seconds; reads ``OTEL_METRIC_EXPORT_INTERVAL`` (milliseconds).
        sampler: a sampler name; reads ``OTEL_TRACES_SAMPLER``.
        sampler_arg: the sampling ratio; reads ``OTEL_TRACES_SAMPLER_ARG``.
        system_metrics: collect ``system.*`` and ``process.*`` metrics; reads
            ``OTEL_AGENTS_SYSTEM_METRICS``.
        cardinality_limit: attribute sets per metric stream; reads
            ``OTEL_AGENTS_CARDINALITY_LIMIT``.
        prometheus_host: bind address of the ``prometheus`` exporter's ``/metrics`` server;
            reads ``OTEL_EXPORTER_PROMETHEUS_HOST``.
        prometheus_port: its port; reads ``OTEL_EXPORTER_PROMETHEUS_PORT``.
        span_processors: extra span processors (an in-memory exporter in tests, say).
        metric_readers: extra metric readers.
        disabled: build nothing; reads ``OTEL_SDK_DISABLED``.

    Returns:
        The :class:`Telemetry` in force, or ``None`` when the SDK is disabled.
    """
    global _current
    requested = {k: v for k, v in locals().items() if v not in (None, ())}
    _validate_arguments(requested)
    with _lock:
        if _current is not None:
            if requested and requested != _current.settings.get("requested"):
                _logger.warning(
                    "otel_agents.configure() was already called; keeping the first "
                    "configuration (call otel_agents.shutdown() first to change it)"
                )
            return _current
        if s.SDK_DISABLED.read(disabled):
            _logger.info("OTEL_SDK_DISABLED is set: otel-agents configures no telemetry")
            return None
        _current = _build(requested)
        return _current


def _validate_arguments(requested: dict[str, Any]) -> None:
    limit = requested.get("cardinality_limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise invalid_config("cardinality_limit", limit, "a positive whole number, e.g. 2000")
    protocol = requested.get("otlp_protocol")
    if protocol is not None and protocol not in s.PROTOCOLS:
        raise invalid_config("otlp_protocol", protocol, "an OTLP protocol", s.PROTOCOLS)
    sampler = requested.get("sampler")
    if sampler is not None and sampler not in s.SAMPLERS:
        raise invalid_config("sampler", sampler, "a sampler name", s.SAMPLERS)
    for name in ("otlp_timeout", "metric_export_interval"):
        value = requested.get(name)
        if value is not None and not (isinstance(value, int | float) and 0 < value < float("inf")):
            raise invalid_config(name, value, "a positive number of seconds")
    for signal in s.SIGNALS:
        value = requested.get(f"{signal}_exporter")
        names = [value] if isinstance(value, str) else list(value or ())
        for name in (n.strip().lower() for item in names for n in item.split(",")):
            if name not in s.EXPORTERS[signal]:
                raise invalid_config(
                    f"{signal}_exporter", value, "exporter names", s.EXPORTERS[signal]
                )


def get_telemetry() -> Telemetry | None:
    """The :class:`Telemetry` made by :func:`configure`, or ``None``."""
    return _current


def shutdown() -> None:
    """Flush and stop what :func:`configure` started. Safe to call twice or without it."""
    global _current
    with _lock:
        current, _current = _current, None
    if current is not None:
        current.shutdown()


def _build(requested: dict[str, Any]) -> Telemetry:
    get = requested.get
    resource = _resource(get("service_name"), get("resource_attributes"))
    protocol_arg = get("otlp_protocol")
    otlp = {
        signal: {
            "protocol": s.read_signal(s.OTLP_PROTOCOL, signal, protocol_arg),
            "timeout": s.read_signal(s.OTLP_TIMEOUT, signal, get("otlp_timeout")),
            "endpoint": get("otlp_endpoint"),
            "headers": get("otlp_headers"),
        }
        for signal in s.SIGNALS
    }
    telemetry = Telemetry(resource, None, None, None, settings={"requested": requested})
    telemetry.settings["otlp"] = otlp

    exporters = {
        "traces": s.TRACES_EXPORTER.read(_names(get("traces_exporter"), "traces")),
        "metrics": s.METRICS_EXPORTER.read(_names(get("metrics_exporter"), "metrics")),
        "logs": s.LOGS_EXPORTER.read(_names(get("logs_exporter"), "logs")),
    }
    telemetry.settings["exporters"] = exporters

    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        sampler = _sampler(s.TRACES_SAMPLER.read(get("sampler")), get("sampler_arg"))
        tracer_provider = TracerProvider(resource=resource, sampler=sampler)
        for name in exporters["traces"]:
            if name != "none":
                tracer_provider.add_span_processor(BatchSpanProcessor(_span_exporter(name, otlp)))
        for processor in get("span_processors", ()):
            tracer_provider.add_span_processor(processor)
        trace.set_tracer_provider(tracer_provider)
        telemetry.tracer_provider = tracer_provider
    else:
        _logger.info("a global TracerProvider is already set; otel-agents keeps it")

    if _is_proxy_meter_provider(metrics.get_meter_provider()):
        limit = s.CARDINALITY_LIMIT.read(get("cardinality_limit"))
        readers = _metric_readers(exporters["metrics"], otlp, requested, limit, telemetry)
        readers.extend(get("metric_readers", ()))
        meter_provider = MeterProvider(resource=resource, metric_readers=readers, views=_views())
        metrics.set_meter_provider(meter_provider)
        telemetry.meter_provider = meter_provider
        if s.SYSTEM_METRICS.read(get("system_metrics")):
            from otel_agents.system_metrics import SystemMetrics

            telemetry.system_metrics = SystemMetrics(meter_provider=meter_provider)
            telemetry.system_metrics.enable()
    else:
        _logger.info("a global MeterProvider is already set; otel-agents keeps it")

    if type(get_logger_provider()).__name__.startswith(("ProxyLoggerProvider", "NoOp")):
        logger_provider = LoggerProvider(resource=resource)
        for name in exporters["logs"]:
            if name != "none":
                logger_provider.add_log_record_processor(
                    BatchLogRecordProcessor(_log_exporter(name, otlp))
                )
        set_logger_provider(logger_provider)
        telemetry.logger_provider = logger_provider
    return telemetry


def _names(value: str | Sequence[str] | None, signal: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    raw = value if isinstance(value, str) else ",".join(value)
    return s.exporter_list(signal)(raw)


def _resource(service_name: str | None, attributes: dict[str, str] | None) -> Resource:
    base = Resource.create({})  # reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
    extra: dict[str, Any] = dict(attributes or {})
    if service_name is not None:
        extra["service.name"] = service_name
    if semconv.SERVICE_INSTANCE_ID not in base.attributes and (
        semconv.SERVICE_INSTANCE_ID not in extra
    ):
        extra[semconv.SERVICE_INSTANCE_ID] = str(uuid.uuid4())
    return base.merge(Resource(extra))


def _sampler(name: str, arg: float | None) -> sampling.Sampler:
    ratio = s.TRACES_SAMPLER_ARG.read(arg)
    if name == "always_on":
        return sampling.ALWAYS_ON
    if name == "always_off":
        return sampling.ALWAYS_OFF
    if name == "traceidratio":
        return sampling.TraceIdRatioBased(ratio)
    if name == "parentbased_always_off":
        return sampling.ParentBased(sampling.ALWAYS_OFF)
    if name == "parentbased_traceidratio":
        return sampling.ParentBased(sampling.TraceIdRatioBased(ratio))
    return sampling.ParentBased(sampling.ALWAYS_ON)


def _otlp_kwargs(options: dict[str, Any], signal: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"timeout": options["timeout"]}
    if options["headers"] is not None:
        kwargs["headers"] = options["headers"]
    endpoint = options["endpoint"]
    if endpoint is not None:
        if options["protocol"] == "http/protobuf":
            endpoint = endpoint.rstrip("/") + f"/v1/{signal}"
        kwargs["endpoint"] = endpoint
    return kwargs


def _span_exporter(name: str, otlp: dict[str, dict[str, Any]]) -> Any:
    if name == "console":
        return ConsoleSpanExporter()
    options = otlp["traces"]
    if options["protocol"] == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    return OTLPSpanExporter(**_otlp_kwargs(options, "traces"))


def _log_exporter(name: str, otlp: dict[str, dict[str, Any]]) -> Any:
    if name == "console":
        return ConsoleLogRecordExporter()
    options = otlp["logs"]
    if options["protocol"] == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import (  # type: ignore[assignment]
            OTLPLogExporter,
        )
    return OTLPLogExporter(**_otlp_kwargs(options, "logs"))


def _metric_readers(
    names: tuple[str, ...],
    otlp: dict[str, dict[str, Any]],
    requested: dict[str, Any],
    limit: int,
    telemetry: Telemetry,
) -> list[MetricReader]:
    limits: dict[type, int] = dict.fromkeys(
        (
            Counter,
            UpDownCounter,
            Histogram,
            _Gauge,
            ObservableCounter,
            ObservableUpDownCounter,
            ObservableGauge,
        ),
        limit,
    )
    interval = s.METRIC_EXPORT_INTERVAL.read(requested.get("metric_export_interval"))
    timeout = s.METRIC_EXPORT_TIMEOUT.read()
    readers: list[MetricReader] = []
    for name in names:
        if name == "none":
            continue
        if name == "prometheus":
            readers.append(_prometheus_reader(requested, limits, telemetry))
            continue
        exporter: Any
        if name == "console":
            exporter = ConsoleMetricExporter()
        elif otlp["metrics"]["protocol"] == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
                OTLPMetricExporter,
            )

            exporter = OTLPMetricExporter(**_otlp_kwargs(otlp["metrics"], "metrics"))
        else:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter as HTTPMetricExporter,
            )

            exporter = HTTPMetricExporter(**_otlp_kwargs(otlp["metrics"], "metrics"))
        readers.append(
            PeriodicExportingMetricReader(
                exporter,
                export_interval_millis=interval * 1000,
                export_timeout_millis=timeout * 1000,
                cardinality_limits=limits,
            )
        )
    return readers


def _prometheus_reader(
    requested: dict[str, Any], limits: dict[type, int], telemetry: Telemetry
) -> MetricReader:
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import start_http_server

    host = s.PROMETHEUS_HOST.read(requested.get("prometheus_host"))
    port = s.PROMETHEUS_PORT.read(requested.get("prometheus_port"))
    reader = PrometheusMetricReader(cardinality_limits=limits)
    server, _thread = start_http_server(port=port, addr=host)
    telemetry._prometheus_server = server
    telemetry.settings["prometheus"] = (host, server.server_address[1])
    return reader


def _views() -> list[View]:
    return [
        View(
            instrument_name=spec.name,
            aggregation=ExplicitBucketHistogramAggregation(boundaries=spec.buckets),
        )
        for spec in semconv.ALL_METRICS.values()
        if spec.kind is InstrumentKind.HISTOGRAM and spec.buckets
    ]


def invalid_config(
    parameter: str, value: Any, expected: str, choices: Sequence[str] | None = None
) -> ConfigurationError:
    message = f"{parameter}={value!r} is not valid: expected {expected}"
    if choices:
        message += f"; valid choices: {', '.join(choices)}"
    return ConfigurationError(message)


def _is_proxy_meter_provider(provider: object) -> bool:
    return type(provider).__name__ in ("_ProxyMeterProvider", "NoOpMeterProvider")
