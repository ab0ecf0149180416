"""``configure()`` and ``shutdown()``: the one place otel-agents builds SDK providers.

Library code (tracker, profiler, messaging, gateway) only ever asks the global providers, or
the ones passed to it, for tracers and meters. ``configure()`` is for applications that want
a working OpenTelemetry setup from the standard ``OTEL_*`` variables in one line; an
application that already set global providers keeps them.

It does not call the SDK's ``_initialize_components``: that one sets every global provider
unconditionally, builds exporters whose shutdown has no deadline, raises on a bad variable,
and has no place for our Views, cardinality limit or Prometheus server. It does honour what
the SDK's configurator honours, by the same mechanisms: exporters, samplers and id generators
named by entry point (:mod:`otel_agents._plugins`),
``OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED``, ``OTEL_EXPERIMENTAL_RESOURCE_DETECTORS``.
``tests/test_configure_entry_points.py`` proves each with real entry points.
"""

from __future__ import annotations

import atexit
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import metrics, trace
from opentelemetry._logs import get_logger_provider, set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import (
    MeterProvider,
    TraceBasedExemplarFilter,
)
from opentelemetry.sdk.metrics.export import (
    MetricReader,
)
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from otel_agents import _exporters as x, _providers as p, _settings as s, semconv
from otel_agents._config_params import MAX_SECONDS, invalid_config
from otel_agents._errors import ConfigurationError
from otel_agents._export_noise import (
    loud_export_errors,
    quiet_export_errors,
    redact_header_warnings,
)
from otel_agents._guard import Guards, stop_within
from otel_agents._host import host_resource
from otel_agents._inprocess import InProcessMetrics, installed_reader, set_installed_reader
from otel_agents._numbers import is_real
from otel_agents._otlp_endpoints import warn_userinfo
from otel_agents.genai._prices import load_price_table_from_env
from otel_agents.genai._processor import GenAISpanProcessor
from otel_agents.genai._telemetry import reset_default_telemetry

if TYPE_CHECKING:
    from otel_agents._metrics_server import MetricsServer
    from otel_agents._system_metrics import SystemMetrics

__all__ = ["Telemetry", "configure", "get_telemetry", "shutdown"]

_logger = logging.getLogger("otel_agents")
_lock = threading.Lock()
_current: Telemetry | None = None
_shut_down = False  # the global providers we set are stopped and cannot be replaced
_exit_hook = False  # shutdown() is registered with atexit
_T = TypeVar("_T")


@dataclass
class Telemetry:
    """What :func:`configure` set up. ``None`` providers mean that signal is off."""

    resource: Resource
    tracer_provider: TracerProvider | None
    meter_provider: MeterProvider | None
    logger_provider: LoggerProvider | None
    # repr=False: the requested settings hold OTLP headers, which often carry credentials.
    settings: dict[str, Any] = field(default_factory=dict, repr=False)
    system_metrics: SystemMetrics | None = None
    #: The in-process reader dashboards read (``configure(dashboard=True)``), else ``None``.
    dashboard_reader: InProcessMetrics | None = None
    #: What :meth:`shutdown` found not exported, by kind (``spans``, ``metric data points``,
    #: ``log records``): failed exports since configure(), and what was still queued or in
    #: flight at the deadline. Empty when everything was delivered.
    dropped: dict[str, int] = field(default_factory=dict)
    _guards: Guards = field(default_factory=Guards, repr=False)
    _prometheus_server: MetricsServer | None = field(default=None, repr=False)
    _log_handler: logging.Handler | None = field(default=None, repr=False)
    _closed: bool = field(default=False, repr=False)

    def shutdown(self, timeout: float | None = None) -> None:
        """Flush and stop everything this configuration started, within ``timeout``.

        Traces, metrics and logs are flushed side by side. At the deadline, exports still
        waiting for the Collector (refused, black-holed, backing off before a retry) are
        abandoned: what they carried is dropped, counted in :attr:`dropped` and logged once
        as a warning. Safe to call twice.

        Args:
            timeout: seconds; reads ``OTEL_AGENTS_SHUTDOWN_TIMEOUT`` (milliseconds, default
                5000), so a container stops well within Docker's 10 s stop timeout.

        Raises:
            ConfigurationError: ``timeout`` is not a positive number of seconds.
        """
        if timeout is not None and not (_is_seconds(timeout)):
            raise invalid_config("timeout", timeout, _SECONDS_EXPECTED)
        if self._closed:
            return
        self._closed = True
        limit = s.SHUTDOWN_TIMEOUT.read(timeout)
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
            self._log_handler = None
        stops: list[tuple[str, Callable[[], Any]]] = []
        if self.tracer_provider is not None:
            stops.append(("TracerProvider", self.tracer_provider.shutdown))
        if self.meter_provider is not None:
            stops.append(("MeterProvider", partial(self.meter_provider.shutdown, limit * 1000)))
        if self.logger_provider is not None:
            stops.append(("LoggerProvider", self.logger_provider.shutdown))
        finished, lost = stop_within(stops, self._guards, limit)
        # Only now: the MeterProvider's final collection (in its shutdown) must still read
        # the system and process metrics, or a program shorter than the export interval
        # never exports them at all.
        if self.system_metrics is not None:
            try:
                self.system_metrics.disable()
            except Exception:  # telemetry must never break the host program
                _logger.warning("stopping the system metrics failed", exc_info=True)
        if self.dashboard_reader is not None and installed_reader() is self.dashboard_reader:
            set_installed_reader(None)
        self.dropped = {what: count for what, count in lost.items() if count}
        _report(finished, limit, self.dropped)
        if self._prometheus_server is not None:
            self._prometheus_server.stop()
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
    dashboard: bool | None = None,
    host_metrics: str | None = None,
    cardinality_limit: int | None = None,
    prometheus_host: str | None = None,
    prometheus_port: int | None = None,
    span_processors: Sequence[SpanProcessor] = (),
    metric_readers: Sequence[MetricReader] = (),
    views: Sequence[View] = (),
    disabled: bool | None = None,
) -> Telemetry | None:
    """Set up OpenTelemetry tracing, metrics and logs from ``OTEL_*`` variables.

    Idempotent and thread-safe: the first call builds the providers and sets them as the
    global ones; later calls return the same :class:`Telemetry` (with a warning if they ask
    for something different). Call :func:`shutdown` to flush and stop (it also runs at exit);
    it takes at most ``OTEL_AGENTS_SHUTDOWN_TIMEOUT`` (5 s) and logs what it could not send.
    If the application already set its own global providers, they are kept and only the
    missing ones are made.

    The providers built here cut attribute values at ``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT``
    (8192 characters by default; ``OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`` for span
    attributes) and turn on the SDK's ``otel.sdk.*`` metrics, which count dropped spans and
    failed exports (``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=false`` turns them off).

    Args:
        service_name: ``service.name``; reads ``OTEL_SERVICE_NAME``.
        resource_attributes: extra resource attributes; merged over
            ``OTEL_RESOURCE_ATTRIBUTES``. ``service.instance.id`` defaults to a random UUID.
        traces_exporter: ``otlp``, ``console`` or ``none`` (or a list), or the name of an
            installed ``opentelemetry_traces_exporter`` entry point (``otlp_proto_grpc``,
            ``zipkin_json``, ...); reads ``OTEL_TRACES_EXPORTER``. A name that is not
            installed raises here; in the variable it is logged as an ERROR naming the
            installed choices, and exports nothing (never falls back to another
            destination).
        metrics_exporter: ``otlp``, ``prometheus``, ``console``, ``none`` or an installed
            ``opentelemetry_metrics_exporter`` entry point; reads ``OTEL_METRICS_EXPORTER``.
        logs_exporter: ``otlp``, ``console``, ``none`` or an installed
            ``opentelemetry_logs_exporter`` entry point; reads ``OTEL_LOGS_EXPORTER``.
        otlp_protocol: ``grpc`` or ``http/protobuf``; reads ``OTEL_EXPORTER_OTLP_PROTOCOL``
            and its per-signal variants.
        otlp_endpoint: base endpoint for all signals; the exporters otherwise read
            ``OTEL_EXPORTER_OTLP_ENDPOINT`` and its per-signal variants.
        otlp_headers: headers for every OTLP request; otherwise ``OTEL_EXPORTER_OTLP_HEADERS``.
        otlp_timeout: seconds; reads ``OTEL_EXPORTER_OTLP_TIMEOUT`` (milliseconds).
        metric_export_interval: seconds; reads ``OTEL_METRIC_EXPORT_INTERVAL`` (milliseconds).
        sampler: a sampler name from the specification or an installed
            ``opentelemetry_traces_sampler`` entry point; reads ``OTEL_TRACES_SAMPLER``.
            ``OTEL_PYTHON_ID_GENERATOR`` (an ``opentelemetry_id_generator`` entry point,
            default ``random``) picks the trace and span id generator.
        sampler_arg: the sampling ratio; reads ``OTEL_TRACES_SAMPLER_ARG``.
        system_metrics: collect ``system.*`` and ``process.*`` metrics; reads
            ``OTEL_AGENTS_SYSTEM_METRICS``.
        dashboard: register an :class:`~otel_agents._inprocess.InProcessMetrics` reader so
            dashboards show what every component records (messages, gateway requests,
            profiled blocks); reads ``OTEL_AGENTS_DASHBOARD``, default off, because the SDK
            aggregates each measurement once more per reader.
        host_metrics: which processes report the host's ``system.*`` metrics: ``auto`` (one
            per host, elected with a lock file), ``on`` (this one), ``off``; reads
            ``OTEL_AGENTS_HOST_METRICS``, default ``auto``. ``process.*`` metrics are always
            reported.
        cardinality_limit: attribute sets per metric stream; reads
            ``OTEL_AGENTS_CARDINALITY_LIMIT``.
        prometheus_host: bind address of the ``prometheus`` exporter's ``/metrics`` server;
            reads ``OTEL_EXPORTER_PROMETHEUS_HOST``.
        prometheus_port: its port; reads ``OTEL_EXPORTER_PROMETHEUS_PORT``.
        span_processors: extra span processors (an in-memory exporter in tests, say).
        metric_readers: extra metric readers.
        views: extra metric Views, after otel-agents' own bucket Views; e.g. a ``View`` with
            ``DropAggregation()`` for instruments you do not want (see docs/gateway.md).
        disabled: build nothing; reads ``OTEL_SDK_DISABLED``.

    With ``OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED=true``, records of the standard
    ``logging`` module go to the logs pipeline too (the handler of
    ``opentelemetry-instrumentation-logging``, the ``logs`` extra, or else the SDK's).

    Returns:
        The :class:`Telemetry` in force, or ``None`` when the SDK is disabled.
    """
    global _current
    requested = {k: v for k, v in locals().items() if v is not None and v != ()}
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
        if _shut_down:
            _logger.warning(
                "otel_agents.configure() after shutdown(): OpenTelemetry sets global providers "
                "once per process, so the stopped ones stay in place; restart the process "
                "to configure telemetry again"
            )
        with p.sdk_internal_metrics(s.SDK_INTERNAL_METRICS.read()):
            _current = _build(requested)
        _register_exit_hook()
        return _current


def _register_exit_hook() -> None:
    # The providers are built with shutdown_on_exit=False: their own exit hooks would wait
    # up to 30 s each for an unreachable Collector. This one is bounded.
    global _exit_hook
    if not _exit_hook:
        _exit_hook = True
        atexit.register(shutdown)


_SECONDS_EXPECTED = f"a positive number of seconds up to {MAX_SECONDS:g} (one day), e.g. 5.0"


def _is_seconds(value: object) -> bool:
    return is_real(value) and 0 < value <= MAX_SECONDS


def _report(finished: bool, limit: float, dropped: dict[str, int]) -> None:
    lost = ", ".join(f"{what}: {count}" for what, count in dropped.items()) or "nothing"
    if not finished:
        _logger.warning(
            "otel-agents shutdown: the exporters did not finish within %.1f s "
            "(OTEL_AGENTS_SHUTDOWN_TIMEOUT); gave up on them. Not exported: %s",
            limit,
            lost,
        )
    elif dropped:
        _logger.warning(
            "otel-agents shutdown: not exported since configure() (failed exports): %s", lost
        )


def _validate_arguments(requested: dict[str, Any]) -> None:
    s.check_arguments(requested)
    for name, kind in (
        ("span_processors", SpanProcessor),
        ("metric_readers", MetricReader),
        ("views", View),
    ):
        value = requested.get(name, ())
        if not isinstance(value, list | tuple) or not all(isinstance(v, kind) for v in value):
            raise invalid_config(name, value, f"a list of {kind.__name__} objects")


def get_telemetry() -> Telemetry | None:
    """The :class:`Telemetry` made by :func:`configure`, or ``None``."""
    return _current


def shutdown(timeout: float | None = None) -> None:
    """Flush and stop what :func:`configure` started. Safe to call twice or without it.

    Runs by itself at interpreter exit. See :meth:`Telemetry.shutdown`.

    Args:
        timeout: seconds it may take; reads ``OTEL_AGENTS_SHUTDOWN_TIMEOUT`` (milliseconds,
            default 5000). What is not exported by then is dropped, counted and logged.
    """
    global _current, _shut_down
    if timeout is not None and not _is_seconds(timeout):
        raise invalid_config("timeout", timeout, _SECONDS_EXPECTED)
    with _lock:
        current, _current = _current, None
        if current is not None:
            _shut_down = True
    if current is not None:
        current.shutdown(timeout)
        loud_export_errors()  # the exporters are gone: their loggers as configure() found them


def _forget(timeout: float) -> None:
    """Stop what configure() built without exporting it, and forget it: for tests only.

    Exporters are aborted first, so nothing is sent (not even the final metric collection)
    and nothing waits for a Collector. The atexit hook is unregistered. The OpenTelemetry
    global providers are not touched here (see :func:`otel_agents.testing.reset_configure`).
    """
    global _current, _shut_down, _exit_hook
    with _lock:
        current, _current = _current, None
        _shut_down = False
        if _exit_hook:
            atexit.unregister(shutdown)
            _exit_hook = False
    if current is not None:
        current._guards.abort()
        current.shutdown(timeout)
    loud_export_errors()


def _build(requested: dict[str, Any]) -> Telemetry:
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
