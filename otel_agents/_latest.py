"""The tracker's gauges: the latest reading per series, exported only while it is fresh.

A synchronous ``Gauge.set`` is exported again at every collection, forever: an agent that
reported 97% CPU once and then went silent (its task ended, its process moved on) stays at
97% in Prometheus, and ``OtelAgentsAgentHighCpu`` never resolves. The tracker reports its
gauges (``agent.cpu.usage``, ``agent.memory.usage``, ``agent.throughput``,
``agent.error.rate``, ``agent.queue.size``) as observable gauges instead, whose callback
yields only readings younger than ``gauge_max_age``: a silent agent's series is no longer
exported, so Prometheus marks it stale, as the in-process rules forget a reading once it
leaves their window.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry.metrics import MeterProvider, Observation

from otel_agents import semconv
from otel_agents._observers import observe

__all__ = ["MAX_SERIES", "LatestReadings"]

#: Series one gauge keeps (the SDK's default cardinality limit): past it, the series updated
#: least recently is forgotten first, so memory stays bounded whatever the attributes.
MAX_SERIES = 2000

_Key = frozenset[tuple[str, Any]]


class LatestReadings:
    """The latest value of each attribute set of one gauge, and when it was recorded.

    The gauge is shared by every tracker on one MeterProvider (:func:`observe`: an SDK meter
    keeps only the first callback of an instrument name), and reports while this object
    lives, which is as long as its tracker.

    Args:
        meter_provider: where the gauge lives; the global provider when None.
        scope: the instrumentation scope (the tracker's meter name).
        spec: the gauge of the telemetry contract (an observable gauge).
        max_age: seconds a reading is exported after it was recorded.
        now: the tracker's interval clock (``clock.monotonic``), for both the reading and the
            export: an age measured on the wall clock is wrong by as much as NTP steps it (a
            step back kept a silent agent's reading exported for an hour; a step forward
            dropped fresh readings). Nothing here needs a timestamp.
    """

    def __init__(
        self,
        meter_provider: MeterProvider | None,
        scope: str,
        spec: semconv.MetricSpec,
        max_age: float,
        now: Callable[[], float],
    ) -> None:
        self._max_age = max_age
        self._now = now
        self._lock = threading.Lock()
        self._latest: dict[_Key, tuple[float, float, Mapping[str, Any]]] = {}
        observe(meter_provider, scope, spec, self, LatestReadings.observations)

    def set(self, value: float, attributes: Mapping[str, Any]) -> None:
        """Keep ``value`` as the series' reading (the signature of ``Gauge.set``)."""
        key = frozenset(attributes.items())
        reading = (value, self._now(), attributes)
        with self._lock:
            latest = self._latest
            if latest.pop(key, None) is None and len(latest) >= MAX_SERIES:
                del latest[next(iter(latest))]  # the one updated least recently
            latest[key] = reading

    def observations(self) -> Iterable[Observation]:
        """The fresh readings; stale ones are forgotten (the series ends)."""
        oldest = self._now() - self._max_age
        with self._lock:
            stale = [key for key, (_, at, _) in self._latest.items() if at < oldest]
            for key in stale:
                del self._latest[key]
            fresh = list(self._latest.values())
        return [Observation(value, dict(attributes)) for value, _, attributes in fresh]
