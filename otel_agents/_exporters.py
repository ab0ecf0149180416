"""The exporters, batch processors and metric readers that :func:`configure` builds.

Each piece is built by :func:`failsafe`: when a variable that the SDK reads itself (an
``OTEL_BSP_*`` setting, an OTLP compression, a limit) makes it raise, one warning names the
problem and the piece is built again from the specification's defaults. Telemetry setup never
crashes the host program.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from opentelemetry.sdk._logs import LogRecordLimits
from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter, LogRecordExporter
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
    _Gauge,
)
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import SpanLimits
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter

from otel_agents import _extras as extras, _plugins as plugins, _settings as s
from otel_agents._logs import redacting_logger
from otel_agents._otlp_endpoints import build_otlp_exporter
from otel_agents._sdk_env import LOG_COUNT_LIMITS, SPAN_COUNT_LIMITS, limit_arguments

if TYPE_CHECKING:
    from otel_agents._metrics_server import MetricsServer

_logger = redacting_logger("otel_agents")
_T = TypeVar("_T")


class Prometheus(NamedTuple):
    """The ``prometheus`` exporter's reader and the ``/metrics`` server it runs."""

    reader: MetricReader
    server: MetricsServer
    address: tuple[str, int]


# The specification's defaults, passed explicitly so the SDK reads no OTEL_BSP_*/OTEL_BLRP_*.
_BATCH_DEFAULTS: dict[str, dict[str, int]] = {
    "BSP": {
        "max_queue_size": 2048,
        "schedule_delay_millis": 5000,
        "max_export_batch_size": 512,
        "export_timeout_millis": 30000,
    },
    "BLRP": {
        "max_queue_size": 2048,
        "schedule_delay_millis": 1000,
        "max_export_batch_size": 512,
        "export_timeout_millis": 30000,
    },
}


# The package each OTLP protocol's exporters live in (both come with the ``otlp`` extra).
_OTLP_PACKAGES = {
    "grpc": "opentelemetry.exporter.otlp.proto.grpc",
    "http/protobuf": "opentelemetry.exporter.otlp.proto.http",
}


def drop_missing_otlp(
    exporters: dict[str, tuple[str, ...]], otlp: dict[str, dict[str, Any]]
) -> None:
    """Take ``otlp`` out of the signals whose OTLP exporter is not installed.

    ``otlp`` is the default exporter, so a core install (no ``otlp`` extra) must still
    configure: one warning names the extra to install, and the other exporters carry on.
    """
    absent = [
        signal
        for signal, options in otlp.items()
        if not extras.installed(_OTLP_PACKAGES.get(options["protocol"], _OTLP_PACKAGES["grpc"]))
    ]
    if not absent:
        return
    _logger.warning(
        "%s; %s are not exported over OTLP",
        extras.missing("otlp", "the otlp exporter (OTEL_*_EXPORTER=otlp, the default)"),
        ", ".join(absent),
    )
    for signal in absent:
        exporters[signal] = tuple(name for name in exporters[signal] if name != "otlp")
        del otlp[signal]


def batch_processor(
    name: str,
    what: str,
    make_exporter: Callable[..., Any],
    otlp: dict[str, dict[str, Any]],
    processor: Callable[..., _T],
    prefix: str,
    guard: Callable[[Any], Any],
) -> _T | None:
    """An exporter wrapped in a batch processor, each falling back to defaults if need be.

    ``guard`` wraps the exporter (:mod:`otel_agents._guard`) so that shutdown is bounded.
    """
    if name == "otlp":
        exporter = build_otlp_exporter(
            f"the otlp {what} exporter (OTEL_EXPORTER_OTLP_* variables)",
            _SIGNAL_OF[prefix],
            otlp[_SIGNAL_OF[prefix]]["endpoint"],
            partial(make_exporter, name, otlp),
            partial(make_exporter, name, otlp, compression_off=True),
        )
    elif name == "console":
        exporter = failsafe(f"the console {what} exporter", partial(make_exporter, name, otlp))
    else:
        exporter = plugin(_SIGNAL_OF[prefix], name)
    if exporter is None:
        return None
    exporter = guard(exporter)
    return failsafe(
        f"the batch {what} processor (OTEL_{prefix}_* variables)",
        partial(processor, exporter),
        partial(processor, exporter, **_BATCH_DEFAULTS[prefix]),
        "the default batch settings",
    )


_SIGNAL_OF = {"BSP": "traces", "BLRP": "logs"}
_PLUGIN_BASES: dict[str, tuple[type, ...]] = {
    "traces": (SpanExporter,),
    "metrics": (MetricExporter, MetricReader),
    "logs": (LogRecordExporter,),
}


def plugin(signal: str, name: str) -> Any:
    """The exporter (or metric reader) an installed entry point registers as ``name``.

    Built as the SDK's configurator builds it, without arguments: it reads its own
    variables. ``None`` (logged) when it cannot be loaded or constructed.
    """
    variable = f"OTEL_{signal.upper()}_EXPORTER"
    cls = plugins.load(plugins.EXPORTER_GROUPS[signal], name, _PLUGIN_BASES[signal], variable)
    if cls is None:
        return None
    return failsafe(f"the {name} {signal} exporter ({variable}, an installed entry point)", cls)


def failsafe(
    what: str,
    build: Callable[[], _T],
    fallback: Callable[[], _T] | None = None,
    default: str = "",
) -> _T | None:
    """Build ``what``; if an SDK-read variable breaks it, warn and build ``fallback``."""
    try:
        return build()
    except Exception as exc:  # a bad variable must never crash the host program
        if fallback is None:
            _logger.warning("%s could not be set up (%s); continuing without it", what, exc)
            return None
        _logger.warning("%s could not be set up (%s); using %s", what, exc, default)
    try:
        return fallback()
    except Exception as exc:
        _logger.warning("%s could not be set up (%s); continuing without it", what, exc)
        return None


def attribute_length_limits() -> tuple[int, int]:
    """The attribute value length limits: for all attributes, and for span attributes.

    The specification's default is no limit, so one careless 1 MiB value (a prompt, a payload,
    an id from a request) would be exported whole in every span that carries it.
    """
    general = s.ATTRIBUTE_VALUE_LENGTH_LIMIT.read()
    span = s.SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT.read()
    return general, general if span is None else span


def span_limits(lengths: tuple[int, int]) -> SpanLimits:
    """The SDK's span limits (it reads the count limits) with our ``lengths`` limits; a
    malformed count variable gets its own default (see :func:`_sdk_env.limit_arguments`)."""
    general, span = lengths
    counts = limit_arguments(SPAN_COUNT_LIMITS)
    return SpanLimits(max_attribute_length=general, max_span_attribute_length=span, **counts)


def default_span_limits(lengths: tuple[int, int]) -> SpanLimits:
    # Every limit given explicitly, so SpanLimits reads none of the OTEL_*_LIMIT variables.
    general, span = lengths
    return SpanLimits(
        max_attributes=128,
        max_events=128,
        max_links=128,
        max_span_attributes=128,
        max_event_attributes=128,
        max_link_attributes=128,
        max_attribute_length=general,
        max_span_attribute_length=span,
    )


def log_limits(lengths: tuple[int, int]) -> LogRecordLimits:
    """As :func:`span_limits`, for log records (their length limit defaults to ours)."""
    length = ("max_log_record_attribute_length", lengths[0])
    counts = limit_arguments(
        LOG_COUNT_LIMITS, {"OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT": length}
    )
    return LogRecordLimits(max_attribute_length=lengths[0], **counts)


def default_log_limits(lengths: tuple[int, int]) -> LogRecordLimits:
    general = lengths[0]
    return LogRecordLimits(
        max_attributes=128,
        max_attribute_length=general,
        max_log_record_attributes=128,
        max_log_record_attribute_length=general,
    )


def _otlp_kwargs(options: dict[str, Any], signal: str, compression_off: bool) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"timeout": options["timeout"]}
    if compression_off:
        # The fallback after a bad OTEL_EXPORTER_OTLP_*COMPRESSION: the spec default, none.
        if options["protocol"] == "grpc":
            from grpc import Compression as GrpcCompression  # type: ignore[import-untyped]

            kwargs["compression"] = GrpcCompression.NoCompression
        else:
            from opentelemetry.exporter.otlp.proto.http import Compression

            kwargs["compression"] = Compression.NoCompression
    if options["headers"] is not None:
        # gRPC metadata keys must be lower case (HTTP header names are case-insensitive);
        # the exporters lower-case OTEL_EXPORTER_OTLP_HEADERS themselves, but not a dict.
        kwargs["headers"] = {key.lower(): value for key, value in options["headers"].items()}
    endpoint = options["endpoint"]
    if endpoint is not None:
        if options["protocol"] == "http/protobuf":
            endpoint = endpoint.rstrip("/") + f"/v1/{signal}"
        kwargs["endpoint"] = endpoint
    return kwargs


def span_exporter(
    name: str, otlp: dict[str, dict[str, Any]], *, compression_off: bool = False
) -> Any:
    if name == "console":
        return ConsoleSpanExporter()
    options = otlp["traces"]
    if options["protocol"] == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    return OTLPSpanExporter(**_otlp_kwargs(options, "traces", compression_off))


def log_exporter(
    name: str, otlp: dict[str, dict[str, Any]], *, compression_off: bool = False
) -> Any:
    if name == "console":
        return ConsoleLogRecordExporter()
    options = otlp["logs"]
    if options["protocol"] == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import (  # type: ignore[assignment]
            OTLPLogExporter,
        )
    return OTLPLogExporter(**_otlp_kwargs(options, "logs", compression_off))


def metric_readers(
    names: tuple[str, ...],
    otlp: dict[str, dict[str, Any]],
    requested: dict[str, Any],
    limit: int,
    guard: Callable[[Any], Any],
) -> tuple[list[MetricReader], Prometheus | None]:
    """The readers named by ``names``, all with ``limit`` attribute sets per stream.

    Also returns the ``/metrics`` server of the ``prometheus`` exporter, if it started.
    ``guard`` wraps each push exporter (:mod:`otel_agents._guard`).
    """
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
    readers: list[MetricReader] = []
    periodic = [name for name in names if name not in ("prometheus", "none")]
    if periodic:
        interval = s.METRIC_EXPORT_INTERVAL.read(requested.get("metric_export_interval"))
        timeout = s.METRIC_EXPORT_TIMEOUT.read()
    for name in periodic:
        if name == "otlp":
            exporter = build_otlp_exporter(
                "the otlp metric exporter (OTEL_EXPORTER_OTLP_* variables)",
                "metrics",
                otlp["metrics"]["endpoint"],
                partial(_metric_exporter, name, otlp),
                partial(_metric_exporter, name, otlp, compression_off=True),
            )
        elif name == "console":
            exporter = failsafe(
                "the console metric exporter", partial(_metric_exporter, name, otlp)
            )
        else:
            exporter = plugin("metrics", name)
        if isinstance(exporter, MetricReader):  # a pull exporter: it is its own reader
            readers.append(exporter)
        elif exporter is not None:
            readers.append(
                PeriodicExportingMetricReader(
                    guard(exporter),
                    export_interval_millis=interval * 1000,
                    export_timeout_millis=timeout * 1000,
                    cardinality_limits=limits,
                )
            )
    prometheus = _prometheus_reader(requested, limits) if "prometheus" in names else None
    if prometheus is not None:
        readers.append(prometheus.reader)
    return readers, prometheus


def _metric_exporter(
    name: str, otlp: dict[str, dict[str, Any]], *, compression_off: bool = False
) -> Any:
    if name == "console":
        return ConsoleMetricExporter()
    options = otlp["metrics"]
    if options["protocol"] == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore[assignment]
            OTLPMetricExporter,
        )
    return OTLPMetricExporter(**_otlp_kwargs(options, "metrics", compression_off))


def _prometheus_reader(requested: dict[str, Any], limits: dict[type, int]) -> Prometheus | None:
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader

        from otel_agents._metrics_server import MetricsServer
    except ModuleNotFoundError as exc:  # a core install: never crash the host program
        feature = "the prometheus exporter (OTEL_METRICS_EXPORTER=prometheus)"
        _logger.warning("%s; continuing without it", extras.missing("prometheus", feature, exc))
        return None

    host = s.PROMETHEUS_HOST.read(requested.get("prometheus_host"))
    port = s.PROMETHEUS_PORT.read(requested.get("prometheus_port"))
    try:
        server = MetricsServer(host, port)
    except (OSError, ValueError) as exc:  # port taken, unknown host: never crash the host
        _logger.warning(
            "the prometheus exporter cannot serve /metrics on %s:%s "
            "(OTEL_EXPORTER_PROMETHEUS_HOST/OTEL_EXPORTER_PROMETHEUS_PORT): %s; "
            "continuing without it",
            host,
            port,
            exc,
        )
        return None
    reader = PrometheusMetricReader(cardinality_limits=limits)
    return Prometheus(reader, server, server.address)
