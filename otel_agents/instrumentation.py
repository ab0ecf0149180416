"""``OtelAgentsInstrumentor``: system and process metrics under ``opentelemetry-instrument``.

Registered under the ``opentelemetry_instrumentor`` entry point as ``otel_agents``, so::

    opentelemetry-instrument python agent.py

turns on the ``system.*`` and ``process.*`` metrics of :mod:`otel_agents.system_metrics`
without code changes. It can also be used directly::

    OtelAgentsInstrumentor().instrument(meter_provider=provider)
    run_agents()
    OtelAgentsInstrumentor().uninstrument()

Both calls are safe to repeat (contrib's ``BaseInstrumentor`` contract; the instrumentor is a
singleton).
"""

from __future__ import annotations

import weakref
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from otel_agents.system_metrics import SystemMetrics

__all__ = ["OtelAgentsInstrumentor"]


class OtelAgentsInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Enables :class:`~otel_agents.system_metrics.SystemMetrics` on instrument().

    ``instrument(meter_provider=...)`` uses that provider, the global one otherwise.
    """

    def __init__(self) -> None:
        # BaseInstrumentor is a singleton whose __init__ runs on every construction.
        if not hasattr(self, "_by_provider"):
            # An SDK meter keeps the first instrument of a name and ignores later callbacks,
            # so one SystemMetrics per provider is kept and re-enabled, never rebuilt.
            self._by_provider: weakref.WeakKeyDictionary[Any, SystemMetrics] = (
                weakref.WeakKeyDictionary()
            )
            self._global: SystemMetrics | None = None
            self._active: SystemMetrics | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        """Nothing to check: psutil is a dependency of otel-agents itself."""
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        provider = kwargs.get("meter_provider")
        if provider is None:
            if self._global is None:
                self._global = SystemMetrics()
            system_metrics = self._global
        else:
            system_metrics = self._by_provider.get(provider) or SystemMetrics(
                meter_provider=provider
            )
            self._by_provider[provider] = system_metrics
        system_metrics.enable()
        self._active = system_metrics

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._active is not None:
            self._active.disable()
            self._active = None
