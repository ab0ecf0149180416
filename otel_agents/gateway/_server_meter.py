"""The meter ``OpenTelemetryMiddleware`` records through: its request duration, or everything.

Per request the middleware records up to five measurements: the request duration (the only
HTTP server metric the conventions mark Stable), ``http.server.active_requests`` twice
(+1 and -1) and the request and response body sizes (Development status). The gateway
already counts requests in flight per service (``gateway.active_requests``, observed at
collection, no per-request cost), so by default (``http_server_metrics = "stable"``) the
middleware gets a meter that hands out no-op instruments for everything but its duration
histogram. That removes about a fifth of the instrumented gateway's CPU per request (see
``docs/gateway.md``). A View with ``DropAggregation`` cannot do the same: the SDK cleans and
hashes a measurement's attributes before it looks at the aggregation.

``http_server_metrics = "all"`` passes the real meter, so every instrument the middleware
knows is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import metrics
from opentelemetry.metrics import (
    CallbackT,
    Counter,
    Histogram,
    NoOpCounter,
    NoOpHistogram,
    NoOpUpDownCounter,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)

from otel_agents import semconv
from otel_agents.gateway._params import HTTP_SERVER_METRICS

__all__ = ["HTTP_SERVER_METRICS", "StableServerMeter"]

#: The duration histograms of both HTTP convention modes (stable, and the old one in ms).
_KEPT = frozenset({semconv.HTTP_SERVER_REQUEST_DURATION.name, semconv.HTTP_SERVER_DURATION})

_Callbacks = Sequence[CallbackT] | None


class StableServerMeter(metrics.Meter):
    """A meter that records only the HTTP server duration histograms through ``inner``.

    Other histograms, counters and up-down counters it hands out are no-ops; observable
    instruments (which cost nothing per request) are passed through.
    """

    def __init__(self, inner: metrics.Meter) -> None:
        super().__init__(inner.name, inner.version, inner.schema_url)
        self._inner = inner

    def create_histogram(
        self,
        name: str,
        unit: str = "",
        description: str = "",
        *,
        explicit_bucket_boundaries_advisory: Sequence[float] | None = None,
    ) -> Histogram:
        if name not in _KEPT:
            return NoOpHistogram(name, unit, description)
        return self._inner.create_histogram(
            name,
            unit,
            description,
            explicit_bucket_boundaries_advisory=explicit_bucket_boundaries_advisory,
        )

    def create_up_down_counter(
        self, name: str, unit: str = "", description: str = ""
    ) -> UpDownCounter:
        return NoOpUpDownCounter(name, unit, description)

    def create_counter(self, name: str, unit: str = "", description: str = "") -> Counter:
        return NoOpCounter(name, unit, description)

    def create_observable_counter(
        self, name: str, callbacks: _Callbacks = None, unit: str = "", description: str = ""
    ) -> ObservableCounter:
        return self._inner.create_observable_counter(name, callbacks, unit, description)

    def create_observable_gauge(
        self, name: str, callbacks: _Callbacks = None, unit: str = "", description: str = ""
    ) -> ObservableGauge:
        return self._inner.create_observable_gauge(name, callbacks, unit, description)

    def create_observable_up_down_counter(
        self, name: str, callbacks: _Callbacks = None, unit: str = "", description: str = ""
    ) -> ObservableUpDownCounter:
        return self._inner.create_observable_up_down_counter(name, callbacks, unit, description)
