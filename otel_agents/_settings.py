"""Every setting :func:`otel_agents.configure` reads, declared once.

Precedence and failure policy are :mod:`otel_agents._config_params`'s: a keyword argument,
then the environment variable, then the default. Standard ``OTEL_*`` variables mean what the
OpenTelemetry specification says they mean; our own use the ``OTEL_AGENTS_`` prefix. A
variable with a value that cannot be used logs one warning naming the variable, the value
and the default used instead; it never raises (``CONFIGURE.environment_warns``). A bad
per-signal variable (``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL``, say) falls back to the general
one. The one exception is an exporter name that is not installed: it is logged as an ERROR
naming the variable and the installed choices, and that name exports nothing (never a
fallback to another destination). As the specification says, only ``true`` (any case) turns
``OTEL_SDK_DISABLED`` on. A bad keyword argument, by contrast, raises
``ConfigurationError`` (:func:`check_arguments`): it is a bug in the caller's code.

Settings declared with ``read_by`` are read by the SDK or an exporter, not here; they are
declared so that the README's table (``scripts/generate-config-docs``) lists them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_agents._config_params import Component, Param, declared_in, resolve
from otel_agents._server_params import DRAIN_TIMEOUT, SHUTDOWN_TIMEOUT
from otel_agents._settings_parsers import (
    HOST_METRICS_MODES,
    PROTOCOLS,
    SAMPLERS,
    SIGNALS,
    check_attributes,
    check_choice,
    check_exporters,
    check_flag,
    check_headers,
    check_port,
    check_positive_int,
    check_ratio,
    check_sampler,
    check_seconds,
    check_text,
    choice,
    exporter_list,
    known_sampler,
    parse_bool,
    parse_id_generator,
    parse_millis_as_seconds,
    parse_port,
    parse_positive_int,
    parse_ratio,
    parse_sampler,
    parse_spec_bool,
    read_signal,
    signal_setting,
)

__all__ = [
    "CONFIGURE",
    "CONFIGURE_PARAMS",
    "DRAIN_TIMEOUT",
    "HOST_METRICS_MODES",
    "PROTOCOLS",
    "SAMPLERS",
    "SHUTDOWN_TIMEOUT",
    "SIGNALS",
    "check_arguments",
    "exporter_list",
    "known_sampler",
    "read_signal",
    "signal_setting",
]

#: ``configure()``: its variables warn and use the default; its arguments raise.
CONFIGURE = Component("configure()", label="{key}", noun="argument", environment_warns=True)
C = CONFIGURE
SDK = "the SDK"
EXPORTERS = "the OTLP exporters"

SDK_DISABLED = Param(
    C, "disabled", "OTEL_SDK_DISABLED", False, "`true`: build nothing", check_flag, parse_spec_bool
)
SERVICE_NAME: Param[str | None] = Param(
    C,
    "service_name",
    "OTEL_SERVICE_NAME",
    None,
    (
        "`service.name` of the resource; `service.instance.id` defaults to a random UUID; "
        "`host.name`, `host.arch`, `host.id`, `os.type`, `os.version` are detected (the SDK's "
        "`host` and `os` detectors) unless set here or in `OTEL_RESOURCE_ATTRIBUTES`"
    ),
    check_text,
    shown_default="`unknown_service`",
    read_by=SDK,
)
RESOURCE_ATTRIBUTES: Param[Any] = Param(
    C,
    "resource_attributes",
    "OTEL_RESOURCE_ATTRIBUTES",
    None,
    "`k=v,k2=v2` resource attributes (the argument is merged over them)",
    check_attributes,
    shown_default="none",
    read_by=SDK,
)
RESOURCE_DETECTORS: Param[Any] = Param(
    C,
    None,
    "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS",
    None,
    "when set, exactly these SDK detectors run (no `host`/`os` unless listed)",
    shown_default="unset",
    read_by=SDK,
)
TRACES_EXPORTER: Param[tuple[str, ...]] = Param(
    C,
    "traces_exporter",
    "OTEL_TRACES_EXPORTER",
    ("otlp",),
    (
        "`otlp`, `console`, `none` (comma list), or any installed `opentelemetry_traces_exporter`"
        " entry point (`otlp_proto_grpc`, `otlp_proto_http`, ...)"
    ),
    check_exporters("traces"),
    exporter_list("traces"),
    shown_default="`otlp`",
)
METRICS_EXPORTER: Param[tuple[str, ...]] = Param(
    C,
    "metrics_exporter",
    "OTEL_METRICS_EXPORTER",
    ("otlp",),
    "`otlp`, `prometheus`, `console`, `none`, or an `opentelemetry_metrics_exporter` entry point",
    check_exporters("metrics"),
    exporter_list("metrics"),
    shown_default="`otlp`",
)
LOGS_EXPORTER: Param[tuple[str, ...]] = Param(
    C,
    "logs_exporter",
    "OTEL_LOGS_EXPORTER",
    ("otlp",),
    "`otlp`, `console`, `none`, or an `opentelemetry_logs_exporter` entry point",
    check_exporters("logs"),
    exporter_list("logs"),
    shown_default="`otlp`",
)
OTLP_PROTOCOL = Param(
    C,
    "otlp_protocol",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "http/protobuf",
    "`grpc` or `http/protobuf` (also `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_PROTOCOL`)",
    check_choice("an OTLP protocol", PROTOCOLS),
    choice(PROTOCOLS),
)
OTLP_ENDPOINT: Param[str | None] = Param(
    C,
    "otlp_endpoint",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    None,
    "base endpoint of every signal (also per signal)",
    check_text,
    shown_default="`localhost:4318` / `:4317`",
    read_by=EXPORTERS,
)
OTLP_HEADERS: Param[Any] = Param(
    C,
    "otlp_headers",
    "OTEL_EXPORTER_OTLP_HEADERS",
    None,
    (
        "headers of every OTLP request (also per signal); a bad pair is ignored, and its warning "
        "never shows the text"
    ),
    check_headers,
    shown_default="none",
    secret=True,
    read_by=EXPORTERS,
)
OTLP_TIMEOUT = Param(
    C,
    "otlp_timeout",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    10.0,
    "milliseconds, as the specification says (the argument: seconds; also per signal)",
    check_seconds,
    parse_millis_as_seconds,
    shown_default="`10000`",
)
METRIC_EXPORT_INTERVAL = Param(
    C,
    "metric_export_interval",
    "OTEL_METRIC_EXPORT_INTERVAL",
    60.0,
    "milliseconds between metric exports (the argument: seconds)",
    check_seconds,
    parse_millis_as_seconds,
    shown_default="`60000`",
)
METRIC_EXPORT_TIMEOUT = Param(
    C,
    None,
    "OTEL_METRIC_EXPORT_TIMEOUT",
    30.0,
    "milliseconds a metric export may take",
    parse=parse_millis_as_seconds,
    shown_default="`30000`",
)
TRACES_SAMPLER = Param(
    C,
    "sampler",
    "OTEL_TRACES_SAMPLER",
    "parentbased_always_on",
    (
        "the specification's samplers, or an `opentelemetry_traces_sampler` entry point (which "
        "gets the raw argument)"
    ),
    check_sampler,
    parse_sampler,
)
TRACES_SAMPLER_ARG = Param(
    C,
    "sampler_arg",
    "OTEL_TRACES_SAMPLER_ARG",
    1.0,
    "ratio of the `traceidratio` samplers",
    check_ratio,
    parse_ratio,
    shown_default="`1.0`",
)
ID_GENERATOR = Param(
    C,
    None,
    "OTEL_PYTHON_ID_GENERATOR",
    "random",
    "trace and span id generator: an `opentelemetry_id_generator` entry point",
    parse=parse_id_generator,
)
# As in the SDK: attach a handler that sends stdlib logging records to the LoggerProvider.
LOGGING_AUTO_INSTRUMENTATION = Param(
    C,
    None,
    "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED",
    False,
    (
        "`true`: records of the `logging` module go to the logs pipeline (the `logs` extra's "
        "handler, else the SDK's)"
    ),
    parse=parse_spec_bool,
)
PROMETHEUS_HOST = Param(
    C,
    "prometheus_host",
    "OTEL_EXPORTER_PROMETHEUS_HOST",
    "localhost",
    "where the `prometheus` exporter serves `/metrics`",
    check_text,
    str,
)
PROMETHEUS_PORT = Param(
    C, "prometheus_port", "OTEL_EXPORTER_PROMETHEUS_PORT", 9464, "its port", check_port, parse_port
)
SYSTEM_METRICS = Param(
    C,
    "system_metrics",
    "OTEL_AGENTS_SYSTEM_METRICS",
    True,
    "collect `system.*` and `process.*` metrics",
    check_flag,
    parse_bool,
)
HOST_METRICS = Param(
    C,
    "host_metrics",
    "OTEL_AGENTS_HOST_METRICS",
    "auto",
    (
        "which processes report the host's `system.*` metrics: `auto` (one per host and user, "
        "elected with a lock file in the temp dir; another takes over when it exits), `on` (every"
        " one), `off`; `process.*` always"
    ),
    check_choice("a host metrics mode", HOST_METRICS_MODES),
    choice(HOST_METRICS_MODES),
)
DASHBOARD = Param(
    C,
    "dashboard",
    "OTEL_AGENTS_DASHBOARD",
    False,
    (
        "register the in-process metric reader dashboards read; off by default because the SDK "
        "aggregates every measurement once more per reader "
        "([docs/dashboard.md](docs/dashboard.md))"
    ),
    check_flag,
    parse_bool,
)
CARDINALITY_LIMIT = Param(
    C,
    "cardinality_limit",
    "OTEL_AGENTS_CARDINALITY_LIMIT",
    2000,
    "attribute sets per metric stream; the rest fold into `otel.metric.overflow=true`, totals kept",
    check_positive_int,
    parse_positive_int,
)
# The specification leaves attribute values unlimited; a 1 MiB value would be exported whole.
ATTRIBUTE_VALUE_LENGTH_LIMIT = Param(
    C,
    None,
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    8192,
    "longest attribute value (characters) of spans, span events, links and log records",
    parse=parse_positive_int,
)
SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: Param[int | None] = Param(
    C,
    None,
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    None,
    "the same, for span attributes only",
    parse=parse_positive_int,
    shown_default="the general one",
)
# The SDK's default is off; otel-agents turns them on so lost telemetry shows in metrics.
SDK_INTERNAL_METRICS = Param(
    C,
    None,
    "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED",
    True,
    "the SDK's `otel.sdk.*` metrics: dropped spans and log records, failed exports",
    parse=parse_spec_bool,
    shown_default="`true` (the SDK's own default: `false`)",
)

GENAI_PRICES: Param[str | None] = Param(
    C,
    None,
    "OTEL_AGENTS_GENAI_PRICES",
    None,
    (
        "JSON file of model prices (USD per million input/output tokens) for `agent.model.cost`;"
        " a bad file logs a warning and keeps the current table ([docs/genai.md](docs/genai.md))"
    ),
    parse=str,
    shown_default="the dated defaults",
)

#: Every setting above, in order (the README table's order).
CONFIGURE_PARAMS = declared_in(globals(), CONFIGURE)


def check_arguments(requested: Mapping[str, Any]) -> None:
    """Raise :class:`~otel_agents._errors.ConfigurationError` for the first bad argument."""
    for param in CONFIGURE_PARAMS:
        if param.key is not None and requested.get(param.key) is not None:
            resolve(param, requested[param.key])
