"""HTTP server telemetry of the hub and the agent inboxes, by the stable HTTP conventions.

A pure ASGI middleware: one SERVER span per request named ``{method} {route template}``
(``POST /agents/{agent_id}/heartbeat``, never the raw path, so span names stay bounded),
continuing the caller's W3C trace context, with the stable attributes
(``http.request.method``, ``url.path``, ``url.query`` with token-like parameters masked as
the gateway masks them, ``url.scheme``, ``http.route``, ``http.response.status_code``,
``server.address``/``server.port``, ``client.address``, ``network.protocol.version``), and
``http.server.request.duration`` in seconds with the conventions' bucket advice.

Why not contrib's ``OpenTelemetryMiddleware``: it emits the old conventions unless
``OTEL_SEMCONV_STABILITY_OPT_IN`` flips the whole process, which would change every other
instrumentation in the host program too; and it names spans from the raw path. This middleware
is scoped to our two apps.

Requests whose URL matches ``OTEL_PYTHON_STARLETTE_EXCLUDED_URLS`` (else
``OTEL_PYTHON_EXCLUDED_URLS``; comma-separated regular expressions, searched in the full URL)
are neither traced nor measured. When neither variable is set, health checks (``/healthz``)
are excluded: a load balancer polling every second would otherwise fill the trace store. Set
either variable (even to an empty value) to choose yourself.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any, cast

from opentelemetry import metrics, propagate, trace
from opentelemetry.instrumentation.asgi import asgi_getter
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.http import ExcludeList, get_excluded_urls, parse_excluded_urls
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from otel_agents import semconv as sc
from otel_agents._carrier_guard import GuardedGetter
from otel_agents._exception_events import record_exception
from otel_agents._http_methods import known_http_methods
from otel_agents._server_address import server_address
from otel_agents._url_redaction import redact_path, redact_query
from otel_agents._version import __version__, scope_name

__all__ = ["DEFAULT_EXCLUDED_URLS", "ServerTelemetryMiddleware", "excluded_urls"]

#: What is excluded when no ``*_EXCLUDED_URLS`` variable is set: the health checks.
DEFAULT_EXCLUDED_URLS = "/healthz$"

_EXCLUDED_ENV = ("OTEL_PYTHON_STARLETTE_EXCLUDED_URLS", "OTEL_PYTHON_EXCLUDED_URLS")

#: ``user_agent.original`` longer than this is cut (a header is attacker-controlled).
_MAX_USER_AGENT = 256
#: Request headers as the propagators see them: baggage checked first (``_carrier_guard``).
_GETTER = GuardedGetter(asgi_getter)


def excluded_urls() -> ExcludeList:
    """The URLs not to trace: the Starlette variable, else the generic one, else health."""
    if any(name in os.environ for name in _EXCLUDED_ENV):
        return get_excluded_urls("STARLETTE")
    return parse_excluded_urls(DEFAULT_EXCLUDED_URLS)


class ServerTelemetryMiddleware:
    """SERVER spans and ``http.server.request.duration`` around a Starlette app's requests.

    Args:
        app: the ASGI app to wrap.
        routes: the app's routes, to name spans after the template a request matched.
        tracer_provider: defaults to the global one.
        meter_provider: defaults to the global one.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[BaseRoute],
        tracer_provider: Any = None,
        meter_provider: Any = None,
    ) -> None:
        self.app = app
        self.routes = list(routes)
        self.tracer = trace.get_tracer(scope_name(__name__), __version__, tracer_provider)
        meter = metrics.get_meter(scope_name(__name__), __version__, meter_provider=meter_provider)
        self.duration = sc.create_instrument(meter, sc.HTTP_SERVER_REQUEST_DURATION)
        self.excluded = excluded_urls()
        #: Any other method is recorded as ``_OTHER`` (bounded); the conventions' list, or
        #: OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS.
        self.known_methods = known_http_methods()

    def _route(self, scope: Scope) -> str | None:
        """The template of the route ``scope`` matches (also on a wrong method), if any."""
        partial: str | None = None
        for route in self.routes:
            match, _ = route.matches(scope)
            path: str | None = getattr(route, "path", None)
            if match is Match.FULL:
                return path
            if match is Match.PARTIAL and partial is None:
                partial = path
        return partial

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scheme: str = scope.get("scheme", "http")
        host, port = server_address(scope)
        path: str = scope.get("path", "")
        if self.excluded.url_disabled(f"{scheme}://{host}:{port}{path}"):
            await self.app(scope, receive, send)
            return
        original: str = scope.get("method", "")
        known = original in self.known_methods
        method = original if known else sc.HTTP_METHOD_OTHER
        route = self._route(scope)
        span_method = original if known else sc.HTTP_SPAN_METHOD_OTHER
        name = sc.HTTP_SERVER_SPAN.format(method=span_method, route=route) if route else span_method
        metric_attributes: dict[str, Any] = {
            sc.HTTP_REQUEST_METHOD: method,
            sc.URL_SCHEME: scheme,
            sc.NETWORK_PROTOCOL_VERSION: scope.get("http_version", "1.1"),
        }
        if route:
            metric_attributes[sc.HTTP_ROUTE] = route
        attributes: dict[str, Any] = {
            **metric_attributes,
            # Masked as the gateway does, before the span starts (samplers see them).
            sc.URL_PATH: redact_path(path) if ";" in path else path,
            sc.SERVER_ADDRESS: host,
            sc.SERVER_PORT: port,
        }
        query: bytes = scope.get("query_string", b"")
        if query:  # Conditionally Required when the request had one
            attributes[sc.URL_QUERY] = redact_query(query.decode("latin-1"))
        if not known:
            attributes[sc.HTTP_REQUEST_METHOD_ORIGINAL] = original[:32]
        client = scope.get("client")
        if client:
            attributes[sc.CLIENT_ADDRESS] = client[0]
        agent = _header(scope, b"user-agent")
        if agent:
            attributes[sc.USER_AGENT_ORIGINAL] = agent[:_MAX_USER_AGENT]
        status: list[int] = []

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        started = time.perf_counter()
        span = self.tracer.start_span(
            name,
            context=propagate.extract(cast("dict[str, Any]", scope), getter=_GETTER),
            kind=SpanKind.SERVER,
            attributes=attributes,
        )
        error_type: str | None = None
        try:
            with trace.use_span(span, record_exception=False, set_status_on_exception=False):
                await self.app(scope, receive, send_status)
        except BaseException as exc:
            error_type = type(exc).__qualname__
            record_exception(span, exc)  # redacted message and stack
            raise
        finally:
            if status:
                metric_attributes[sc.HTTP_RESPONSE_STATUS_CODE] = status[0]
                span.set_attribute(sc.HTTP_RESPONSE_STATUS_CODE, status[0])
                if status[0] >= 500 and error_type is None:
                    error_type = str(status[0])
            if error_type is not None:
                metric_attributes[sc.ERROR_TYPE] = error_type
                span.set_attribute(sc.ERROR_TYPE, error_type)
                span.set_status(Status(StatusCode.ERROR))
            span.end()
            self.duration.record(time.perf_counter() - started, metric_attributes)


def _header(scope: Scope, key: bytes) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == key:
            return bytes(value).decode("latin-1")
    return None
