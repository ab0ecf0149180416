"""What :func:`~otel_agents.configure` built, as a :class:`Telemetry`, and how it stops.

Split from :mod:`otel_agents._config` (the entry points and the one process-wide
configuration) and :mod:`otel_agents._config_build` (building the providers): this is the
handle the builder fills in and the entry points keep and return, and its bounded shutdown,
which flushes the three signals side by side, abandons what is still waiting for a Collector
at the deadline and reports what was dropped. Kept apart so the shutdown policy reads on its
own, and so the builder can make the handle without importing the entry points.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from otel_agents import _settings as s
from otel_agents._config_params import MAX_SECONDS, invalid_config
from otel_agents._guard import Guards, stop_within
from otel_agents._inprocess import InProcessMetrics, installed_reader, set_installed_reader
from otel_agents._logs import foreign_logger, redacting_logger
from otel_agents._numbers import is_real

if TYPE_CHECKING:
    from otel_agents._metrics_server import MetricsServer
    from otel_agents._system_metrics import SystemMetrics

__all__ = ["SECONDS_EXPECTED", "Telemetry", "is_seconds"]

_logger = redacting_logger("otel_agents")


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
        if timeout is not None and not (is_seconds(timeout)):
            raise invalid_config("timeout", timeout, SECONDS_EXPECTED)
        if self._closed:
            return
        self._closed = True
        limit = s.SHUTDOWN_TIMEOUT.read(timeout)
        if self._log_handler is not None:
            foreign_logger().removeHandler(self._log_handler)
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


SECONDS_EXPECTED = f"a positive number of seconds up to {MAX_SECONDS:g} (one day), e.g. 5.0"


def is_seconds(value: object) -> bool:
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
