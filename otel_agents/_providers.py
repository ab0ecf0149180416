"""The SDK providers :func:`otel_agents.configure` builds, and how they are built.

Split from :mod:`otel_agents._config_build` (which decides what to build): the tracer and logger
providers with their guarded batch exporters (:mod:`otel_agents._guard`), the sampler, the
histogram bucket Views, and the switch for the SDK's own ``otel.sdk.*`` metrics.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator

from otel_agents import _exporters as x, _plugins as plugins, _settings as s, semconv
from otel_agents._failsafe_processor import failsafe_span_processor
from otel_agents._guard import Guards
from otel_agents._logs import exportable, foreign_logger, redacting_logger
from otel_agents.semconv import InstrumentKind

__all__ = [
    "id_generator",
    "logger_provider",
    "make_sampler",
    "sdk_internal_metrics",
    "tracer_provider",
    "views",
]

_logger = redacting_logger("otel_agents")


@contextlib.contextmanager
def sdk_internal_metrics(enabled: bool) -> Iterator[None]:
    """``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED`` as resolved, while the SDK is built.

    The SDK reads the variable in each processor's and exporter's constructor and takes no
    argument for it; otel-agents turns its ``otel.sdk.*`` metrics on by default, so dropped
    spans and failed exports are counted rather than only logged.
    """
    name = s.SDK_INTERNAL_METRICS.variable
    previous = os.environ.get(name)
    os.environ[name] = "true" if enabled else "false"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def logger_provider(
    resource: Resource,
    exporters: dict[str, tuple[str, ...]],
    otlp: dict[str, dict[str, Any]],
    guards: Guards,
    lengths: tuple[int, int],
) -> LoggerProvider | None:
    logger_provider = x.failsafe(
        "the LoggerProvider (OTEL_*_LIMIT variables)",
        lambda: LoggerProvider(
            resource=resource, shutdown_on_exit=False, log_record_limits=x.log_limits(lengths)
        ),
        lambda: LoggerProvider(
            resource=resource,
            shutdown_on_exit=False,
            log_record_limits=x.default_log_limits(lengths),
        ),
        "the default log record limits",
    )
    if logger_provider is None:
        return None
    if any(name != "none" for name in exporters["logs"]):
        logger_provider.add_log_record_processor(guards.log_counter())
    for name in exporters["logs"]:
        if name != "none":
            processor = x.batch_processor(
                name,
                "log record",
                x.log_exporter,
                otlp,
                BatchLogRecordProcessor,
                "BLRP",
                guards.log_exporter,
            )
            if processor is not None:
                logger_provider.add_log_record_processor(processor)
    return logger_provider


def tracer_provider(
    requested: dict[str, Any],
    resource: Resource,
    exporters: dict[str, tuple[str, ...]],
    otlp: dict[str, dict[str, Any]],
    guards: Guards,
    lengths: tuple[int, int],
) -> TracerProvider | None:
    argument = requested.get("sampler")
    name = s.TRACES_SAMPLER.read(None if argument is None else s.known_sampler(argument))
    chosen = make_sampler(name, requested.get("sampler_arg"))
    ids = id_generator()
    tracer_provider = x.failsafe(
        "the TracerProvider (OTEL_*_LIMIT variables)",
        lambda: TracerProvider(
            resource=resource,
            sampler=chosen,
            id_generator=ids,
            span_limits=x.span_limits(lengths),
            shutdown_on_exit=False,
        ),
        lambda: TracerProvider(
            resource=resource,
            sampler=chosen,
            id_generator=ids,
            span_limits=x.default_span_limits(lengths),
            shutdown_on_exit=False,
        ),
        "the default span limits",
    )
    if tracer_provider is None:
        return None
    if any(name != "none" for name in exporters["traces"]):
        tracer_provider.add_span_processor(guards.span_counter())
    for name in exporters["traces"]:
        if name != "none":
            processor = x.batch_processor(
                name, "span", x.span_exporter, otlp, BatchSpanProcessor, "BSP", guards.span_exporter
            )
            if processor is not None:
                tracer_provider.add_span_processor(processor)
    for extra in requested.get("span_processors", ()):
        # Called inline by span.end(): one that raises must not reach the user's code.
        tracer_provider.add_span_processor(failsafe_span_processor(extra))
    return tracer_provider


def logging_handler(provider: LoggerProvider) -> logging.Handler:
    """A root-logger handler sending ``logging`` records to ``provider``.

    ``OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED=true``, as the SDK's configurator does.
    The handler of ``opentelemetry-instrumentation-logging`` (the ``logs`` extra) when it is
    installed; else the SDK's own, which is deprecated. Under ``opentelemetry-instrument``,
    that package's instrumentor sees the variable and adds no second handler.
    """
    handler_class: type[logging.Handler]
    try:
        from opentelemetry.instrumentation.logging.handler import (  # type: ignore[import-not-found,unused-ignore]
            LoggingHandler,
        )

        handler_class = LoggingHandler
    except ImportError:
        from opentelemetry.sdk._logs import LoggingHandler as SdkLoggingHandler

        handler_class = SdkLoggingHandler

    class Handler(handler_class):  # type: ignore[valid-type,misc]
        """Exports our own records with their exceptions redacted (:func:`exportable`)."""

        def emit(self, record: logging.LogRecord) -> None:
            super().emit(exportable(record))

    import warnings

    with warnings.catch_warnings():  # the user asked for it by setting the variable
        warnings.simplefilter("ignore", DeprecationWarning)  # the SDK's handler is deprecated
        handler: logging.Handler = Handler(level=logging.NOTSET, logger_provider=provider)
    foreign_logger().addHandler(handler)
    return handler


def id_generator() -> IdGenerator:
    """``OTEL_PYTHON_ID_GENERATOR``: ``random``, or an installed entry point's name."""
    name = s.ID_GENERATOR.read()
    if name != "random":
        cls = plugins.load(plugins.ID_GENERATOR_GROUP, name, IdGenerator, s.ID_GENERATOR.variable)
        made = None if cls is None else x.failsafe(f"the id generator {name!r}", cls)
        if made is not None:
            return made  # type: ignore[no-any-return]
        _logger.warning("%s=%r: using the random id generator", s.ID_GENERATOR.variable, name)
    return RandomIdGenerator()


def make_sampler(name: str, arg: float | None) -> sampling.Sampler:
    if name not in s.SAMPLERS:
        return _plugin_sampler(name, arg)
    if name.endswith("traceidratio"):
        # Read only by the ratio samplers, so a stray value warns nobody needlessly.
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


def _plugin_sampler(name: str, arg: float | None) -> sampling.Sampler:
    """A sampler from an installed ``opentelemetry_traces_sampler`` entry point.

    Its factory gets ``sampler_arg`` or the raw ``OTEL_TRACES_SAMPLER_ARG`` (or ``None``), as
    the SDK's configurator gives it; anything that goes wrong warns and uses the default.
    """
    variable = s.TRACES_SAMPLER.variable
    factory = plugins.load(plugins.SAMPLER_GROUP, name, None, variable)
    raw: Any = arg if arg is not None else os.environ.get(s.TRACES_SAMPLER_ARG.variable)
    made = None if factory is None else x.failsafe(f"the sampler {name!r}", lambda: factory(raw))
    if isinstance(made, sampling.Sampler):
        return made
    if made is not None:
        _logger.warning("%s=%r made %r, which is not a Sampler", variable, name, made)
    _logger.warning("%s=%r: using the default parentbased_always_on", variable, name)
    return sampling.ParentBased(sampling.ALWAYS_ON)


def views(extra: Sequence[View] = ()) -> list[View]:
    return [
        *(
            View(
                instrument_name=spec.name,
                aggregation=ExplicitBucketHistogramAggregation(boundaries=spec.buckets),
            )
            for spec in semconv.ALL_METRICS.values()
            if spec.kind is InstrumentKind.HISTOGRAM and spec.buckets
        ),
        *extra,
    ]
