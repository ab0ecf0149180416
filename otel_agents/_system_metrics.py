"""System and process metrics from psutil, as OpenTelemetry observable instruments.

:class:`SystemMetrics` registers one observable instrument per ``system.*`` / ``process.*``
metric declared in :mod:`otel_agents.semconv`. psutil is only asked when a metric reader
collects, so an application that never exports pays nothing but the registration. The
numbers come from :class:`SystemReader`, which the profiler's ``get_system_metrics()`` uses
too. :func:`system_metrics_for` keeps one :class:`SystemMetrics` per MeterProvider.

CPU utilization is the share of CPU time spent in each mode between two readings. The first
reading after :meth:`SystemMetrics.enable` is measured against a baseline taken there; when
too little time has passed for that to mean anything, the average since boot (system) or
since process start (process) is reported instead, never a meaningless 0.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from otel_agents import _settings as s, semconv
from otel_agents._config_params import invalid_config
from otel_agents._host import HostElection
from otel_agents._observers import ProviderRegistry
from otel_agents._system_reader import Probes, SystemReader, disk_totals
from otel_agents._version import __version__, scope_name
from otel_agents.semconv import MetricSpec

__all__ = [
    "HostElection",
    "Probes",
    "SystemMetrics",
    "SystemReader",
    "disk_totals",
    "system_metrics_for",
]


class SystemMetrics:
    """Observable ``system.*`` and ``process.*`` instruments backed by psutil.

    ``process.*`` metrics are reported by every process; ``system.*`` metrics describe the
    host, and by default only one process per host reports them (see :mod:`otel_agents._host`).

    Args:
        meter_provider: where to create the instruments; the global provider by default.
        probes: the psutil functions to call (tests inject failing ones).
        host_metrics: ``auto`` (one process per host reports ``system.*``), ``on`` (this one
            does), ``off`` (it does not); reads ``OTEL_AGENTS_HOST_METRICS`` at
            :meth:`enable`, default ``auto``.
        election: the host-wide election ``auto`` uses (tests give one a private directory).
    """

    def __init__(
        self,
        meter_provider: MeterProvider | None = None,
        *,
        probes: Probes | None = None,
        host_metrics: str | None = None,
        election: HostElection | None = None,
    ) -> None:
        if host_metrics is not None and host_metrics not in s.HOST_METRICS_MODES:
            raise invalid_config(
                "host_metrics", host_metrics, "a host metrics mode", s.HOST_METRICS_MODES
            )
        self._meter_provider = meter_provider
        self.reader = SystemReader(probes)
        self._enabled = False
        self._registered = False
        self._lock = threading.Lock()
        self._host_metrics = host_metrics
        self._mode = "auto"
        self.election = election or HostElection()
        self._host_now = False  # whether this collection reports system.* metrics

    @property
    def reports_host_metrics(self) -> bool:
        """Whether this process reports ``system.*`` now (``auto``: stands for election)."""
        if self._mode == "on":
            return True
        if self._mode == "off":
            return False
        return self.election.holds()

    @property
    def enabled(self) -> bool:
        return self._enabled

    def enable(self, host_metrics: str | None = None) -> None:
        """Register the instruments (once) and start reporting. Safe to call twice.

        Args:
            host_metrics: overrides the constructor's ``host_metrics`` (see the class).
        """
        if host_metrics is not None and host_metrics not in s.HOST_METRICS_MODES:
            raise invalid_config(
                "host_metrics", host_metrics, "a host metrics mode", s.HOST_METRICS_MODES
            )
        with self._lock:
            if self._enabled:
                return
            self._mode = s.HOST_METRICS.read(host_metrics or self._host_metrics)
            try:
                self.reader.take_baseline()
            except Exception:  # without a baseline the first reading averages since boot
                self.reader.log_once("the CPU baseline")
            if not self._registered:
                self._register()
                self._registered = True
                # The provider now holds the callbacks; holding it back would keep it alive.
                self._meter_provider = None
            self._enabled = True

    def disable(self) -> None:
        """Stop reporting: the callbacks yield nothing from now on. Safe to call twice.

        Gives up the host metrics election, so another process takes over.
        """
        with self._lock:
            self._enabled = False
            self.election.release()

    def _register(self) -> None:
        meter = metrics.get_meter(
            scope_name(__name__), __version__, meter_provider=self._meter_provider
        )
        r = self.reader
        table: list[tuple[MetricSpec, Callable[[], Any], str | None]] = [
            (semconv.SYSTEM_CPU_UTILIZATION, r.cpu_utilization, semconv.CPU_MODE),
            (semconv.SYSTEM_MEMORY_USAGE, r.memory_usage, semconv.SYSTEM_MEMORY_STATE),
            (semconv.SYSTEM_MEMORY_UTILIZATION, r.memory_utilization, semconv.SYSTEM_MEMORY_STATE),
            (semconv.SYSTEM_DISK_IO, r.disk_io, semconv.DISK_IO_DIRECTION),
            (semconv.SYSTEM_NETWORK_IO, r.network_io, semconv.NETWORK_IO_DIRECTION),
            (semconv.PROCESS_CPU_TIME, r.process_cpu_time, semconv.CPU_MODE),
            (semconv.PROCESS_CPU_UTILIZATION, r.process_cpu_utilization_by_mode, semconv.CPU_MODE),
            (semconv.PROCESS_MEMORY_USAGE, r.process_memory_usage, None),
            (semconv.PROCESS_MEMORY_VIRTUAL, r.process_memory_virtual, None),
            (semconv.PROCESS_THREAD_COUNT, r.process_thread_count, None),
        ]
        for index, (spec, read, key) in enumerate(table):
            callback = self._callback(
                spec.name, read, key, first=index == 0, host=spec.name.startswith("system.")
            )
            semconv.create_instrument(meter, spec, [callback])

    def _callback(
        self, name: str, read: Callable[[], Any], key: str | None, *, first: bool, host: bool
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        reader = self.reader

        def observe(options: CallbackOptions) -> Iterable[Observation]:
            if not self._enabled:
                return ()
            if first:  # the SDK calls callbacks in registration order, once per collection
                reader.begin()
                try:
                    self._host_now = self.reports_host_metrics
                except Exception:  # the election must never break collection
                    self.reader.log_once("the host metrics election")
                    self._host_now = True
            if host and not self._host_now:
                return ()
            try:
                value = read()
            except Exception:  # a psutil error must never break collection
                self.reader.log_once(name)
                return ()
            if key is None:
                return (Observation(value),)
            return [Observation(v, {key: k}) for k, v in value.items()]

        return observe


# One SystemMetrics per MeterProvider: an SDK meter keeps the first instrument of a name and
# silently ignores the callbacks of a second registration, so configure() and the
# instrumentor must share one set. Weak keys: a dropped provider takes its entry along.
_registry: ProviderRegistry[SystemMetrics] = ProviderRegistry()


def system_metrics_for(meter_provider: MeterProvider | None = None) -> SystemMetrics:
    """The one :class:`SystemMetrics` of ``meter_provider``, made on first use.

    ``configure()`` and :class:`~otel_agents._instrumentation.OtelAgentsInstrumentor` both use
    this, so enabling system metrics twice on one provider registers each instrument once.

    Args:
        meter_provider: the provider; ``None`` means the global one as it is now. Before an
            SDK provider is set that is the API's proxy, whose instruments move to the SDK
            provider once it is set, so the proxy's set is then reused for that provider.
    """
    return _registry.get(meter_provider, lambda provider: SystemMetrics(meter_provider=provider))
