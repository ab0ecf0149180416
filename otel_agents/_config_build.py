"""Building the providers from the requested and resolved settings, for ``configure()``.

Split from :mod:`otel_agents._config`, which decides *whether* to build (once per process,
under a lock, not when disabled or after shutdown) and registers the exit hook: this module
is *what* gets built. It reads each setting (:mod:`otel_agents._settings`), resolves the
exporters and the OTLP options per signal once, and builds the tracer, meter and logger
providers only where the application has not set its own global one, plus the resource, the
dashboard's in-process reader, the system metrics and the GenAI price table.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry._logs import get_logger_provider, set_logger_provider
from opentelemetry.sdk.metrics import (
    MeterProvider,
    TraceBasedExemplarFilter,
)
from opentelemetry.sdk.resources import Resource

from otel_agents import _exporters as x, _providers as p, _settings as s, semconv
from otel_agents._configured import Telemetry
from otel_agents._errors import ConfigurationError
from otel_agents._export_noise import (
    quiet_export_errors,
    redact_header_warnings,
)
from otel_agents._host import host_resource
from otel_agents._inprocess import InProcessMetrics, set_installed_reader
from otel_agents._logs import redacting_logger
from otel_agents._otlp_endpoints import warn_userinfo
from otel_agents.genai._prices import load_price_table_from_env
from otel_agents.genai._processor import GenAISpanProcessor
from otel_agents.genai._telemetry import reset_default_telemetry

if TYPE_CHECKING:
    from otel_agents._system_metrics import SystemMetrics

__all__ = ["build"]

_logger = redacting_logger("otel_agents")


def build(requested: dict[str, Any]) -> Telemetry:
    """What ``requested`` (configure()'s arguments) asks for; run once, under its lock."""
    get = requested.get
    resource = _resource(get("service_name"), get("resource_attributes"))
    telemetry = Telemetry(resource, None, None, None, settings={"requested": requested})
    exporters = {
        "traces": s.TRACES_EXPORTER.read(_names(get("traces_exporter"), "traces")),
        "metrics": s.METRICS_EXPORTER.read(_names(get("metrics_exporter"), "metrics")),
        "logs": s.LOGS_EXPORTER.read(_names(get("logs_exporter"), "logs")),
    }
    telemetry.settings["exporters"] = exporters
    # The SDK's OTLP exporters log a malformed OTEL_EXPORTER_OTLP_HEADERS pair (the
    # credential itself) whichever name chose them: "otlp", or an entry point such as
    # "otlp_proto_http" that the SDK builds on its own.
    redact_header_warnings()
    if any(n.startswith("otlp") for names in exporters.values() for n in names):
        quiet_export_errors()  # one export-error line per signal, not one per retry
    # Read the general OTLP variables once (one warning, not one per signal), and only
    # when some signal exports over OTLP.
    otlp: dict[str, dict[str, Any]] = {}
    if any("otlp" in names for names in exporters.values()):
        protocol = s.OTLP_PROTOCOL.read(get("otlp_protocol"))
        timeout = s.OTLP_TIMEOUT.read(get("otlp_timeout"))
        otlp = {
            signal: {
                "protocol": s.read_signal(
                    s.OTLP_PROTOCOL, signal, get("otlp_protocol"), general=protocol
                ),
                "timeout": s.read_signal(
                    s.OTLP_TIMEOUT, signal, get("otlp_timeout"), general=timeout
                ),
                "endpoint": get("otlp_endpoint"),
                "headers": get("otlp_headers"),
            }
            for signal in s.SIGNALS
            if "otlp" in exporters[signal]
        }
        x.drop_missing_otlp(exporters, otlp)  # a core install: one warning naming the extra
        warn_userinfo(otlp)
    telemetry.settings["otlp"] = otlp
    lengths = x.attribute_length_limits()  # read once: one warning for a bad value

    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        telemetry.tracer_provider = p.tracer_provider(
            requested, resource, exporters, otlp, telemetry._guards, lengths
        )
        if telemetry.tracer_provider is not None:
            # Official GenAI instrumentations' spans get our agent attribution and a price.
            telemetry.tracer_provider.add_span_processor(GenAISpanProcessor())
            trace.set_tracer_provider(telemetry.tracer_provider)
    else:
        _logger.info("a global TracerProvider is already set; otel-agents keeps it")

    if _is_proxy_meter_provider(metrics.get_meter_provider()):
        limit = s.CARDINALITY_LIMIT.read(get("cardinality_limit"))
        readers, prometheus = x.metric_readers(
            exporters["metrics"], otlp, requested, limit, telemetry._guards.metric_exporter
        )
        if prometheus is not None:
            telemetry._prometheus_server = prometheus.server
            telemetry.settings["prometheus"] = prometheus.address
        readers.extend(get("metric_readers", ()))
        if s.DASHBOARD.read(get("dashboard")):
            telemetry.dashboard_reader = InProcessMetrics()
            readers.append(telemetry.dashboard_reader)
        meter_provider = x.failsafe(
            "the MeterProvider (OTEL_METRICS_EXEMPLAR_FILTER)",
            lambda: MeterProvider(
                resource=resource,
                metric_readers=readers,
                views=p.views(get("views", ())),
                shutdown_on_exit=False,
            ),
            lambda: MeterProvider(
                resource=resource,
                metric_readers=readers,
                views=p.views(get("views", ())),
                exemplar_filter=TraceBasedExemplarFilter(),
                shutdown_on_exit=False,
            ),
            "the default exemplar filter trace_based",
        )
        if meter_provider is not None:
            metrics.set_meter_provider(meter_provider)
            telemetry.meter_provider = meter_provider
            if telemetry.dashboard_reader is not None:
                set_installed_reader(telemetry.dashboard_reader)
        if meter_provider is not None and s.SYSTEM_METRICS.read(get("system_metrics")):
            mode = get("host_metrics")
            telemetry.system_metrics = x.failsafe(
                "system and process metrics", lambda: _system_metrics(meter_provider, mode)
            )
    else:
        _logger.info("a global MeterProvider is already set; otel-agents keeps it")

    _genai_setup()
    if type(get_logger_provider()).__name__.startswith(("ProxyLoggerProvider", "NoOp")):
        telemetry.logger_provider = p.logger_provider(
            resource, exporters, otlp, telemetry._guards, lengths
        )
        if telemetry.logger_provider is not None:
            set_logger_provider(telemetry.logger_provider)
            if s.LOGGING_AUTO_INSTRUMENTATION.read():
                provider = telemetry.logger_provider
                telemetry._log_handler = x.failsafe(
                    "the logging handler (OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED)",
                    lambda: p.logging_handler(provider),
                )
    return telemetry


def _genai_setup() -> None:
    """GenAI model calls record into the providers just set, priced by the table named by
    ``OTEL_AGENTS_GENAI_PRICES`` (a bad file logs a warning and keeps the default prices)."""
    reset_default_telemetry()
    try:
        load_price_table_from_env()
    except ConfigurationError as exc:
        _logger.warning("%s; keeping the current GenAI price table", exc)
    except Exception as exc:  # the providers are set by now: never leave configure() half done
        _logger.warning(
            "the GenAI price table (OTEL_AGENTS_GENAI_PRICES) could not be loaded (%s); "
            "keeping the current one",
            type(exc).__name__,
        )


def _system_metrics(
    meter_provider: MeterProvider, host_metrics: str | None = None
) -> SystemMetrics:
    from otel_agents._system_metrics import system_metrics_for

    # Shared with the instrumentor: one set of instruments per provider.
    collector = system_metrics_for(meter_provider)
    collector.enable(host_metrics)
    return collector


def _names(value: str | Sequence[str] | None, signal: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    raw = value if isinstance(value, str) else ",".join(value)
    return s.exporter_list(signal)(raw)


def _resource(service_name: str | None, attributes: dict[str, str] | None) -> Resource:
    base = Resource.create({})  # reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
    # host.name, host.arch, os.type, ...: under the user's attributes, which win.
    base = host_resource().merge(base)
    extra: dict[str, Any] = dict(attributes or {})
    if service_name is not None:
        extra["service.name"] = service_name
    if semconv.SERVICE_INSTANCE_ID not in base.attributes and (
        semconv.SERVICE_INSTANCE_ID not in extra
    ):
        extra[semconv.SERVICE_INSTANCE_ID] = str(uuid.uuid4())
    return base.merge(Resource(extra))


def _is_proxy_meter_provider(provider: object) -> bool:
    return type(provider).__name__ in ("_ProxyMeterProvider", "NoOpMeterProvider")
