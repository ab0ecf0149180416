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

This module holds the entry points and the one process-wide configuration (the lock, the
current :class:`~otel_agents._configured.Telemetry`, the exit hook); what gets built is
:mod:`otel_agents._config_build`, and the handle with its bounded shutdown is
:mod:`otel_agents._configured`.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.metrics.export import (
    MetricReader,
)
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.trace import SpanProcessor

from otel_agents import _providers as p, _settings as s
from otel_agents._config_build import build
from otel_agents._config_params import invalid_config
from otel_agents._configured import SECONDS_EXPECTED, Telemetry, is_seconds
from otel_agents._export_noise import loud_export_errors
from otel_agents._logs import redacting_logger
from otel_agents._sdk_env import forget_limit_warnings

__all__ = ["configure", "get_telemetry", "shutdown"]

_logger = redacting_logger("otel_agents")
_lock = threading.Lock()
_current: Telemetry | None = None
_shut_down = False  # the global providers we set are stopped and cannot be replaced
_exit_hook = False  # shutdown() is registered with atexit


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
            _current = build(requested)
        _register_exit_hook()
        return _current


def _register_exit_hook() -> None:
    # The providers are built with shutdown_on_exit=False: their own exit hooks would wait
    # up to 30 s each for an unreachable Collector. This one is bounded.
    global _exit_hook
    if not _exit_hook:
        _exit_hook = True
        atexit.register(shutdown)


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
    if timeout is not None and not is_seconds(timeout):
        raise invalid_config("timeout", timeout, SECONDS_EXPECTED)
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
    forget_limit_warnings()  # the next configure() warns about a bad limit as a new process would
