"""Every setting :func:`otel_agents.configure` reads, declared once.

Precedence: a keyword argument, then the environment variable, then the default. Standard
``OTEL_*`` variables mean what the OpenTelemetry specification says they mean; our own use the
``OTEL_AGENTS_`` prefix. A variable with a value that cannot be used logs one warning naming
the variable, the value and the default that is used instead; it never raises. A bad per-signal
variable (``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL``, say) falls back to the general one. The one
exception is an exporter name that is not installed: it is logged as an ERROR naming the
variable and the installed choices, and that name exports nothing (never a fallback to
another destination). As the
specification says, only ``true`` (any case) turns ``OTEL_SDK_DISABLED`` on. A bad keyword
argument of :func:`otel_agents.configure`, by contrast, raises ``ConfigurationError``
(:mod:`otel_agents._arguments`): it is a bug in the caller's code, not in the deployment.

==================================  ====================================  ==================
environment variable                meaning                               default
==================================  ====================================  ==================
OTEL_SDK_DISABLED                   ``true``: configure() builds nothing  false
OTEL_SERVICE_NAME                   ``service.name`` of the resource      ``unknown_service``
OTEL_RESOURCE_ATTRIBUTES            ``k=v,k2=v2`` resource attributes     (none)
OTEL_TRACES_EXPORTER                ``otlp``, ``console``, ``none``, or   otlp
                                    an installed entry point's name
OTEL_METRICS_EXPORTER               ``otlp``, ``prometheus``, ``console``,
                                    ``none``, or an entry point's name    otlp
OTEL_LOGS_EXPORTER                  ``otlp``, ``console``, ``none``, or   otlp
                                    an entry point's name
OTEL_EXPORTER_OTLP_PROTOCOL         ``grpc`` or ``http/protobuf`` (also
                                    ``OTEL_EXPORTER_OTLP_{SIGNAL}_...``)  http/protobuf
OTEL_EXPORTER_OTLP_ENDPOINT         read by the OTLP exporters (also
                                    ``..._{SIGNAL}_ENDPOINT``)            per protocol
OTEL_EXPORTER_OTLP_HEADERS          read by the OTLP exporters (also per  (none)
                                    signal); a bad pair is ignored, and
                                    its warning never shows the text
OTEL_EXPORTER_OTLP_TIMEOUT          milliseconds (also per signal)        10000
OTEL_METRIC_EXPORT_INTERVAL         milliseconds between metric exports   60000
OTEL_METRIC_EXPORT_TIMEOUT          milliseconds                          30000
OTEL_TRACES_SAMPLER                 a specification or entry-point name   parentbased_always_on
OTEL_TRACES_SAMPLER_ARG             ratio for the ``traceidratio`` ones   1.0
OTEL_EXPORTER_PROMETHEUS_HOST       address the ``/metrics`` server binds localhost
OTEL_EXPORTER_PROMETHEUS_PORT       its port                              9464
OTEL_PYTHON_ID_GENERATOR            an entry point's name                 random
OTEL_PYTHON_LOGGING_AUTO_INSTRU...  ``true``: stdlib logging records go   false
  ..MENTATION_ENABLED               to the logs pipeline
OTEL_AGENTS_SYSTEM_METRICS          collect ``system.*``/``process.*``    true
OTEL_AGENTS_HOST_METRICS            ``auto`` (one process per host        auto
                                    reports ``system.*``), ``on``, ``off``
OTEL_AGENTS_CARDINALITY_LIMIT       attribute sets per metric stream      2000
OTEL_AGENTS_DASHBOARD               ``true``: register the in-process     false
                                    reader the dashboard reads
==================================  ====================================  ==================

Limits, shutdown and self-observability:

========================================  ===================================  ==============
environment variable                      meaning                              default
========================================  ===================================  ==============
OTEL_AGENTS_SHUTDOWN_TIMEOUT              milliseconds shutdown() may take;    5000
                                          what is not exported by then is
                                          dropped, counted and logged
OTEL_AGENTS_DRAIN_TIMEOUT                 milliseconds the ``otel-agents``     3000
                                          servers (hub, agent, gateway) let
                                          requests in flight finish after
                                          SIGTERM, before shutdown()
OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT         longest attribute value of spans,    8192
                                          span events, links and log records
OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT    the same, for span attributes only   the general one
OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED  the SDK's ``otel.sdk.*`` metrics     true
                                          (spans dropped, exports failed)
========================================  ===================================  ==============
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from otel_agents import _plugins as plugins

_logger = logging.getLogger("otel_agents")

T = TypeVar("T")

SIGNALS = ("traces", "metrics", "logs")
PROTOCOLS = ("grpc", "http/protobuf")
SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
EXPORTERS: dict[str, tuple[str, ...]] = {
    "traces": ("otlp", "console", "none"),
    "metrics": ("otlp", "prometheus", "console", "none"),
    "logs": ("otlp", "console", "none"),
}


class InvalidSetting(ValueError):
    """Raised by a parser; turned into one warning and the default by :meth:`Setting.read`."""


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One setting: the environment variable it reads, its default and how to parse it."""

    env_var: str
    default: T
    parse: Callable[[str], T]
    description: str

    def read(self, argument: T | None = None, environ: Mapping[str, str] | None = None) -> T:
        """Resolve the setting: ``argument`` if given, else the variable, else the default."""
        if argument is not None:
            return argument
        env = os.environ if environ is None else environ
        raw = env.get(self.env_var, "").strip()
        if not raw:
            return self.default
        try:
            return self.parse(raw)
        except (InvalidSetting, ValueError) as exc:
            _logger.warning(
                "%s=%r is not valid (%s); using the default %r",
                self.env_var,
                raw,
                exc,
                self.default,
            )
            return self.default


def parse_bool(raw: str) -> bool:
    value = raw.lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise InvalidSetting("expected true or false")


def parse_spec_bool(raw: str) -> bool:
    """A specification boolean: only ``true`` is true; ``false`` is false; others warn."""
    value = raw.lower()
    if value == "true":
        return True
    if value == "false":
        return False
    raise InvalidSetting("expected true or false")


def parse_positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise InvalidSetting("expected a positive whole number")
    return value


def parse_port(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 65535:
        raise InvalidSetting("expected a port number from 0 to 65535")
    return value


def parse_millis_as_seconds(raw: str) -> float:
    value = float(raw)
    if not value > 0 or value != value or value == float("inf"):
        raise InvalidSetting("expected a positive number of milliseconds")
    return value / 1000.0


def parse_ratio(raw: str) -> float:
    value = float(raw)
    if not 0.0 <= value <= 1.0:
        raise InvalidSetting("expected a number from 0 to 1")
    return value


def choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.lower()
        if value not in choices:
            raise InvalidSetting(f"expected one of {', '.join(choices)}")
        return value

    return parse


def exporter_choices(signal: str) -> tuple[str, ...]:
    """Our own exporter names for ``signal``, then the installed entry points' names."""
    extra = plugins.installed(plugins.EXPORTER_GROUPS[signal])
    return EXPORTERS[signal] + tuple(n for n in extra if n not in EXPORTERS[signal])


def known_exporter(signal: str, name: str) -> str | None:
    """``name`` as configure() builds it (ours in lower case), or ``None`` if not installed."""
    if name.lower() in EXPORTERS[signal]:
        return name.lower()
    found = plugins.find(plugins.EXPORTER_GROUPS[signal], name)
    return None if found is None else found.name


def exporter_list(signal: str) -> Callable[[str], tuple[str, ...]]:
    """Parse a comma-separated exporter list.

    A name that is neither ours nor an installed entry point is an error, logged at ERROR
    level with the installed choices: that name exports nothing, and nothing is sent to
    another destination instead (the names next to it still work). An empty list means the
    variable is unset: a warning, and the default.
    """
    variable = f"OTEL_{signal.upper()}_EXPORTER"

    def parse(raw: str) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
        if not names:
            raise InvalidSetting(f"expected one or more of {', '.join(EXPORTERS[signal])}")
        kept: list[str] = []
        for name in names:
            known = known_exporter(signal, name)
            if known is None:
                _logger.error(
                    "%s names %r, which is not installed: nothing is exported to it, and "
                    "nothing is sent elsewhere instead. Installed: %s. Fix the name, or "
                    "install the package that provides it",
                    variable,
                    name,
                    ", ".join(exporter_choices(signal)),
                )
            elif known not in kept:
                kept.append(known)
        return ("none",) if "none" in kept else tuple(kept)

    return parse


def sampler_choices() -> tuple[str, ...]:
    extra = plugins.installed(plugins.SAMPLER_GROUP)
    return SAMPLERS + tuple(n for n in extra if n not in SAMPLERS)


def known_sampler(name: str) -> str | None:
    """``name`` if it is a specification sampler or an installed one, else ``None``."""
    if name.lower() in SAMPLERS:
        return name.lower()
    found = plugins.find(plugins.SAMPLER_GROUP, name)
    return None if found is None else found.name


def parse_sampler(raw: str) -> str:
    known = known_sampler(raw)
    if known is None:
        raise InvalidSetting(f"expected one of {', '.join(sampler_choices())}")
    return known


def parse_id_generator(raw: str) -> str:
    if raw == "random":
        return raw
    found = plugins.find(plugins.ID_GENERATOR_GROUP, raw)
    if found is None:
        installed = plugins.installed(plugins.ID_GENERATOR_GROUP)
        raise InvalidSetting(f"expected an installed id generator: {', '.join(installed)}")
    return found.name


SDK_DISABLED = Setting("OTEL_SDK_DISABLED", False, parse_spec_bool, "Turn the SDK off.")
TRACES_EXPORTER: Setting[tuple[str, ...]] = Setting(
    "OTEL_TRACES_EXPORTER", ("otlp",), exporter_list("traces"), "Span exporters."
)
METRICS_EXPORTER: Setting[tuple[str, ...]] = Setting(
    "OTEL_METRICS_EXPORTER", ("otlp",), exporter_list("metrics"), "Metric exporters."
)
LOGS_EXPORTER: Setting[tuple[str, ...]] = Setting(
    "OTEL_LOGS_EXPORTER", ("otlp",), exporter_list("logs"), "Log exporters."
)
OTLP_PROTOCOL = Setting(
    "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", choice(PROTOCOLS), "OTLP transport."
)
OTLP_TIMEOUT = Setting(
    "OTEL_EXPORTER_OTLP_TIMEOUT", 10.0, parse_millis_as_seconds, "OTLP export timeout."
)
METRIC_EXPORT_INTERVAL = Setting(
    "OTEL_METRIC_EXPORT_INTERVAL", 60.0, parse_millis_as_seconds, "Metric export interval."
)
METRIC_EXPORT_TIMEOUT = Setting(
    "OTEL_METRIC_EXPORT_TIMEOUT", 30.0, parse_millis_as_seconds, "Metric export timeout."
)
TRACES_SAMPLER = Setting("OTEL_TRACES_SAMPLER", "parentbased_always_on", parse_sampler, "Sampler.")
ID_GENERATOR = Setting(
    "OTEL_PYTHON_ID_GENERATOR", "random", parse_id_generator, "Trace and span id generator."
)
# As in the SDK: attach a handler that sends stdlib logging records to the LoggerProvider.
LOGGING_AUTO_INSTRUMENTATION = Setting(
    "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED",
    False,
    parse_spec_bool,
    "Send the application's logging records to the logs pipeline.",
)
TRACES_SAMPLER_ARG = Setting("OTEL_TRACES_SAMPLER_ARG", 1.0, parse_ratio, "Sampling ratio.")
PROMETHEUS_HOST = Setting("OTEL_EXPORTER_PROMETHEUS_HOST", "localhost", str, "/metrics host.")
PROMETHEUS_PORT = Setting("OTEL_EXPORTER_PROMETHEUS_PORT", 9464, parse_port, "/metrics port.")
SYSTEM_METRICS = Setting(
    "OTEL_AGENTS_SYSTEM_METRICS", True, parse_bool, "Collect system and process metrics."
)
DASHBOARD = Setting(
    "OTEL_AGENTS_DASHBOARD",
    False,
    parse_bool,
    "Register the in-process metric reader that dashboards read (costs every measurement).",
)
HOST_METRICS_MODES = ("auto", "on", "off")
HOST_METRICS = Setting(
    "OTEL_AGENTS_HOST_METRICS",
    "auto",
    choice(HOST_METRICS_MODES),
    "Which processes report system.* metrics: one per host (auto), every one, none.",
)
CARDINALITY_LIMIT = Setting(
    "OTEL_AGENTS_CARDINALITY_LIMIT",
    2000,
    parse_positive_int,
    "Attribute sets kept per metric stream before folding into otel.metric.overflow.",
)
SHUTDOWN_TIMEOUT = Setting(
    "OTEL_AGENTS_SHUTDOWN_TIMEOUT",
    5.0,
    parse_millis_as_seconds,
    "Longest shutdown(); what is not exported by then is dropped and counted.",
)
# With SHUTDOWN_TIMEOUT, the longest stop of a CLI server: 8 s, within Docker's 10 s.
DRAIN_TIMEOUT = Setting(
    "OTEL_AGENTS_DRAIN_TIMEOUT",
    3.0,
    parse_millis_as_seconds,
    "How long the CLI servers let requests in flight finish after SIGTERM.",
)
# The specification leaves attribute values unlimited; a 1 MiB value would be exported whole.
ATTRIBUTE_VALUE_LENGTH_LIMIT = Setting(
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    8192,
    parse_positive_int,
    "Longest attribute value (characters) of spans, span events and links, and log records.",
)
SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: Setting[int | None] = Setting(
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    None,
    parse_positive_int,
    "Longest span attribute value; OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT when unset.",
)
# The SDK's default is off; otel-agents turns them on so lost telemetry shows in metrics.
SDK_INTERNAL_METRICS = Setting(
    "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED",
    True,
    parse_spec_bool,
    "The SDK's otel.sdk.* self-observability metrics (dropped spans, failed exports).",
)


def signal_setting(base: Setting[Any], signal: str) -> Setting[Any]:
    """The per-signal variant of an OTLP setting (``OTEL_EXPORTER_OTLP_TRACES_...``)."""
    env_var = base.env_var.replace("OTEL_EXPORTER_OTLP_", f"OTEL_EXPORTER_OTLP_{signal.upper()}_")
    return Setting(env_var, base.default, base.parse, base.description)


def read_signal(
    base: Setting[T],
    signal: str,
    argument: T | None,
    environ: Mapping[str, str] | None = None,
    *,
    general: T | None = None,
) -> T:
    """Per-signal variable first, then the general one, then the default.

    ``general`` is the already-resolved general setting, so a bad general variable warns once
    rather than once per signal. A bad per-signal value warns and falls back to the general one.
    """
    if argument is not None:
        return argument
    env = os.environ if environ is None else environ
    if general is None:
        general = base.read(None, env)
    specific = signal_setting(base, signal)
    raw = env.get(specific.env_var, "").strip()
    if not raw:
        return general
    try:
        return base.parse(raw)
    except (InvalidSetting, ValueError) as exc:
        source = base.env_var if _parses(base, env) else "the default"
        _logger.warning(
            "%s=%r is not valid (%s); using %r from %s",
            specific.env_var,
            raw,
            exc,
            general,
            source,
        )
        return general


def _parses(setting: Setting[Any], env: Mapping[str, str]) -> bool:
    raw = env.get(setting.env_var, "").strip()
    try:
        return bool(raw) and (setting.parse(raw) is not None)
    except (InvalidSetting, ValueError):
        return False
