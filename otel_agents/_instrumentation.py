"""Auto-instrumentation: ``opentelemetry-instrument python agent.py`` with no code changes.

Two entry points of the ``otel-agents`` distribution make that work:

* ``opentelemetry_configurator`` ``otel_agents`` -> :class:`OtelAgentsConfigurator`, which
  builds the SDK providers and exporters from the standard ``OTEL_*`` variables with
  :func:`otel_agents.configure`, before the program runs;
* ``opentelemetry_instrumentor`` ``otel_agents`` -> :class:`OtelAgentsInstrumentor`, which
  turns on the ``system.*`` and ``process.*`` metrics of :mod:`otel_agents._system_metrics`
  (``system.*`` from one process per host: ``OTEL_AGENTS_HOST_METRICS``, default ``auto``).

Our configurator honours what the SDK's honours: entry-point exporters, samplers and id
generators, and ``OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED=true``, for which it adds
the logging handler itself (``opentelemetry-instrumentation-logging`` then adds none, so each
record is sent once).

The instrumentor can also be used directly::

    OtelAgentsInstrumentor().instrument(meter_provider=provider)
    run_agents()
    OtelAgentsInstrumentor().uninstrument()

Both calls are safe to repeat (contrib's ``BaseInstrumentor`` contract; the instrumentor is a
singleton).

With ``opentelemetry-distro`` installed as well there are two configurators.
``opentelemetry-instrument`` runs only one: the one named by ``OTEL_PYTHON_CONFIGURATOR``, or
else whichever entry point it finds first, logging a warning that the other was not loaded.
Set ``OTEL_PYTHON_CONFIGURATOR=otel_agents`` to get ours (histogram buckets for agent
latencies, ``OTEL_AGENTS_*`` settings). If the distro's configurator runs instead, it sets
the global providers from the same ``OTEL_*`` variables and the instrumentor still adds the
system metrics to them; the distro itself only sets defaults (OTLP exporters) that
:func:`~otel_agents.configure` reads the same way. Either way there is one SDK setup and one
set of system metrics. ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=otel_agents`` turns the system
metrics off under ``opentelemetry-instrument``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.sdk._configuration import _BaseConfigurator

from otel_agents._logs import redacting_logger
from otel_agents._system_metrics import SystemMetrics, system_metrics_for
from otel_agents._version import scope_name

__all__ = ["OtelAgentsConfigurator", "OtelAgentsInstrumentor"]

_logger = redacting_logger(scope_name(__name__))


class OtelAgentsConfigurator(_BaseConfigurator):
    """Sets up the OpenTelemetry SDK under ``opentelemetry-instrument``.

    Calls :func:`otel_agents.configure` (every ``OTEL_*`` and ``OTEL_AGENTS_*`` variable is
    read there) with ``system_metrics=False``: the instrumentor, which runs next, adds them.
    Global providers the program already has are kept, as ``configure()`` always does.
    """

    def _configure(self, **kwargs: Any) -> None:
        try:
            from otel_agents._config import configure

            configure(system_metrics=False)
        except Exception:  # telemetry must never stop the program from starting
            _logger.exception("otel-agents could not configure OpenTelemetry; running without")


class OtelAgentsInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Enables :class:`~otel_agents._system_metrics.SystemMetrics` on instrument().

    ``instrument(meter_provider=...)`` uses that provider, the global one otherwise.
    """

    def __init__(self) -> None:
        # BaseInstrumentor is a singleton whose __init__ runs on every construction.
        if not hasattr(self, "_active"):
            # What instrument() turned on, so uninstrument() leaves alone system metrics that
            # configure() had enabled on the same provider.
            self._active: SystemMetrics | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        """Nothing to check: psutil is a dependency of otel-agents itself."""
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        # One SystemMetrics per provider, shared with configure(): a second registration of
        # the same instruments would be ignored by the SDK.
        system_metrics = system_metrics_for(kwargs.get("meter_provider"))
        if not system_metrics.enabled:
            system_metrics.enable()
            self._active = system_metrics

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._active is not None:
            self._active.disable()
            self._active = None
