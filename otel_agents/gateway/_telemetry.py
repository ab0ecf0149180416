"""The gateway's own instruments and tracer, built once from the given providers.

``http.server.request.duration`` and the server spans come from the lean server telemetry
(:mod:`._server_span`, or ``OpenTelemetryMiddleware`` when configured so); this module adds
what only the gateway knows: the service of each request, rate-limit
refusals, upstream calls (``http.client.request.duration`` and a CLIENT span each), health.
Attribute dictionaries are cached per (service, route, method, status) so the hot path
allocates nothing new for repeat requests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import Status, StatusCode

from otel_agents import semconv
from otel_agents._http_methods import known_http_methods, method_name
from otel_agents._runtime import weakly
from otel_agents._version import __version__, scope_name
from otel_agents.gateway._registry import Instance, Service

__all__ = ["GatewayTelemetry", "mark_failed"]

_MAX_SERIES = 4096

_STATUS_CLASS = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}


class GatewayTelemetry:
    """Tracer and instruments for one gateway."""

    def __init__(
        self,
        services: Callable[[], list[Service]],
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self.tracer = trace.get_tracer(scope_name(__name__), __version__, tracer_provider)
        meter = metrics.get_meter(scope_name(__name__), __version__, meter_provider=meter_provider)
        #: The HTTP methods attributes keep; any other is ``_OTHER`` (bounded cardinality):
        #: the conventions' list, or OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS, read once here
        #: (``sanitize_method`` from opentelemetry-util-http reads the environment per call).
        self.known_methods = known_http_methods()
        # Weakly: the meter provider keeps the callbacks below for good, and through them
        # this object; it must not keep a dropped gateway alive (``weakly``).
        self._services: Callable[[], list[Service]] = weakly(services, [])
        self.rate_limited = semconv.create_instrument(meter, semconv.GATEWAY_RATE_LIMITED)
        self.upstream_duration = semconv.create_instrument(
            meter, semconv.HTTP_CLIENT_REQUEST_DURATION
        )
        self.upstream_errors = semconv.create_instrument(meter, semconv.GATEWAY_UPSTREAM_ERRORS)
        self.transitions = semconv.create_instrument(meter, semconv.GATEWAY_HEALTH_TRANSITIONS)
        for spec, read in (
            (semconv.GATEWAY_INSTANCES_HEALTHY, self._observe_health),
            (semconv.GATEWAY_REQUESTS, self._observe_requests),
            (semconv.GATEWAY_ACTIVE_REQUESTS, self._observe_active),
        ):
            semconv.create_instrument(meter, spec, [weakly(read, ())])
        # Request counts and in-flight gauges are plain dict updates on the hot path and
        # become observations at collection time: no SDK work per request for them.
        self._counts: dict[tuple[str, str, str, int], int] = {}
        self._active: dict[str, int] = {}
        self._service_attrs: dict[str, dict[str, Any]] = {}
        self._client_attrs: dict[tuple[str, str, str, int, int, str], dict[str, Any]] = {}

    def method_attribute(self, method: str) -> str:
        """``http.request.method`` of ``method``: itself if known, else ``_OTHER``."""
        return method_name(method, self.known_methods)

    def service_attrs(self, service_id: str) -> dict[str, Any]:
        found = self._service_attrs.get(service_id)
        if found is None:
            found = self._service_attrs[service_id] = {semconv.GATEWAY_SERVICE_ID: service_id}
        return found

    def request_started(self, service_id: str) -> None:
        self._active[service_id] = self._active.get(service_id, 0) + 1

    def request_finished(self, service_id: str) -> None:
        self._active[service_id] -= 1

    def record_request(self, service_id: str, route: str, method: str, status: int) -> None:
        key = (service_id, route, self.method_attribute(method), status // 100)
        counts = self._counts
        if key in counts:
            counts[key] += 1
        elif len(counts) < _MAX_SERIES:
            counts[key] = 1
        else:
            overflow = ("", "", "_OTHER", 0)
            counts[overflow] = counts.get(overflow, 0) + 1

    def record_rate_limited(self, service_id: str, scope: str) -> None:
        self.rate_limited.add(
            1, {semconv.GATEWAY_SERVICE_ID: service_id, semconv.GATEWAY_RATE_LIMIT_SCOPE: scope}
        )

    def client_attrs(
        self, service_id: str, method: str, instance: Instance, status: int, error_type: str
    ) -> dict[str, Any]:
        url = instance.url
        method = self.method_attribute(method)
        key = (service_id, method, url.host, url.port, status, error_type)
        attrs = self._client_attrs.get(key)
        if attrs is None:
            attrs = {
                semconv.GATEWAY_SERVICE_ID: service_id,
                semconv.HTTP_REQUEST_METHOD: method,
                semconv.SERVER_ADDRESS: url.host,
                semconv.SERVER_PORT: url.port,
            }
            if status:
                attrs[semconv.HTTP_RESPONSE_STATUS_CODE] = status
            if error_type:
                attrs[semconv.ERROR_TYPE] = error_type
            if len(self._client_attrs) < 4096:
                self._client_attrs[key] = attrs
        return attrs

    def record_upstream(
        self,
        attrs: dict[str, Any],
        duration: float,
        failed: bool,
        context: Context | None = None,
    ) -> None:
        """Record one upstream call; ``context`` (the current one when ``None``) is the
        one whose span an exemplar points to."""
        self.upstream_duration.record(duration, attrs, context=context)
        if failed:
            self.upstream_errors.add(1, attrs, context=context)

    def record_broken_body(
        self, service_id: str, method: str, instance: Instance, status: int, error_type: str
    ) -> None:
        """An upstream body that broke off after its head: one more upstream error (the
        call's duration was recorded when the head came)."""
        attrs = self.client_attrs(service_id, method, instance, status, error_type)
        self.upstream_errors.add(1, attrs)

    def record_transition(self, service: Service, instance: Instance, healthy: bool) -> None:
        self.transitions.add(
            1,
            {
                semconv.GATEWAY_SERVICE_ID: service.service_id,
                semconv.GATEWAY_HEALTH_STATE: "healthy" if healthy else "unhealthy",
            },
        )

    def _observe_requests(self, options: CallbackOptions) -> Iterable[Observation]:
        observations = []
        for (service_id, route, method, status_class), count in list(self._counts.items()):
            attrs: dict[str, Any] = {
                semconv.HTTP_REQUEST_METHOD: method,
                semconv.GATEWAY_STATUS_CLASS: _STATUS_CLASS.get(status_class, "other"),
            }
            if service_id:
                attrs[semconv.GATEWAY_SERVICE_ID] = service_id
            if route:
                attrs[semconv.HTTP_ROUTE] = route
            observations.append(Observation(count, attrs))
        return observations

    def _observe_active(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(count, self.service_attrs(service_id))
            for service_id, count in list(self._active.items())
        ]

    def _observe_health(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(s.healthy_count(), self.service_attrs(s.service_id))
            for s in self._services()
        ]


def mark_failed(span: trace.Span, error_type: str) -> None:
    """Mark ``span`` as ended with the error ``error_type`` (the HTTP conventions' way)."""
    if span.is_recording():
        span.set_attribute(semconv.ERROR_TYPE, error_type)
        span.set_status(Status(StatusCode.ERROR, error_type))
