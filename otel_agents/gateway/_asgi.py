"""Assembling the ASGI app: Starlette, user middleware, and ``OpenTelemetryMiddleware``.

Four choices about the server telemetry matter here:

* **Span names by route template.** The middleware names the server span before the app
  runs, from ``default_span_details``; ours routes the request first, so the span is
  ``GET /v1/users/{path}`` (and ``http.route`` is set, which also labels
  ``http.server.request.duration``), never the raw path. Unrouted requests are named by
  the method alone, as the HTTP conventions say.
* **Stable HTTP conventions, for the gateway only.** The middleware emits
  ``http.server.request.duration`` in seconds only in the ``http`` stability mode
  (``OTEL_SEMCONV_STABILITY_OPT_IN``); without that variable it emits the old
  ``http.server.duration`` in milliseconds. Unless the variable names ``http`` or
  ``http/dup`` (both), the gateway's server telemetry uses the stable mode; an explicit
  HTTP choice is respected. The choice is the gateway's alone: contrib keeps the mode in
  one process-wide mapping, which the gateway never leaves changed, so every other HTTP
  instrumentation in the process keeps the conventions its user chose (see
  :func:`http_stability_mode`).
* **No per-chunk spans.** ``exclude_spans=["receive", "send"]`` drops the internal spans the
  middleware would make for every ASGI message.
* **Only the stable server metric by default.** The middleware records through a
  :class:`~otel_agents.gateway._server_meter.StableServerMeter` unless
  ``http_server_metrics = "all"`` (see that module for why and what it saves).

* **Lean by default.** Where it can emit exactly the same (stable conventions, stable
  server metric, no captured headers), :class:`~otel_agents.gateway._server_span.
  LeanServerTelemetry` takes the middleware's place at well under half its CPU per request;
  ``server_instrumentation = "contrib"`` keeps the middleware (see ``docs/gateway.md``).

Token-like query and ``;`` matrix parameters are masked before the server span starts, so
samplers and ``SpanProcessor.on_start`` never see them: the lean telemetry builds its
``url.query``/``url.path`` redacted, the middleware is shown a redacted copy of the scope
(``_redacted_scope``). Its ``server_request_hook`` then writes ``url.query``, ``url.path``
and the old ``http.target``/``http.url`` in the gateway's own form.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation._semconv import (
    HTTP_DURATION_HISTOGRAM_BUCKETS_NEW,
    OTEL_SEMCONV_STABILITY_OPT_IN,
    _get_schema_url,
    _OpenTelemetrySemanticConventionStability,
    _OpenTelemetryStabilitySignalType,
    _report_new,
    _report_old,
    _StabilityMode,
)
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.asgi.version import __version__ as _asgi_version
from opentelemetry.util.http import (
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST,
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE,
)
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Lifespan, Receive, Scope, Send

from otel_agents import semconv
from otel_agents._http_methods import configured_methods, known_http_methods, method_name
from otel_agents._server_address import server_address
from otel_agents.gateway._admin import ADMIN_PREFIX, admin_template
from otel_agents.gateway._history import redact_path, redact_query
from otel_agents.gateway._pipeline import SERVICE_ON_SPAN, Pipeline
from otel_agents.gateway._redacted_scope import RedactedScope, RestoredScope
from otel_agents.gateway._server_meter import StableServerMeter
from otel_agents.gateway._server_span import LeanServerTelemetry

__all__ = ["build_app", "http_stability_mode", "lean_server_telemetry"]


def http_stability_mode() -> _StabilityMode:
    """The gateway's HTTP semconv mode: stable, unless ``OTEL_SEMCONV_STABILITY_OPT_IN``
    names ``http/dup`` (then both, as that variable asks).

    Computed from the variable alone: nothing process-wide is read or written.
    """
    opted = {t.strip() for t in os.environ.get(OTEL_SEMCONV_STABILITY_OPT_IN, "").split(",")}
    return _StabilityMode.HTTP_DUP if "http/dup" in opted else _StabilityMode.HTTP


def _scoped_middleware(mode: _StabilityMode, **options: Any) -> OpenTelemetryMiddleware:
    """An ``OpenTelemetryMiddleware`` in ``mode``, the process-wide mode left as it was.

    The middleware reads contrib's process-wide mapping once, in its constructor, and keeps
    the mode in the instance. The mapping holds ``mode`` only for that synchronous call
    and is restored before this returns, so requests, and every other HTTP instrumentation
    in the process, see the conventions their user chose.
    """
    stability = _OpenTelemetrySemanticConventionStability
    stability._initialize()  # type: ignore[no-untyped-call]
    mapping = stability._OTEL_SEMCONV_STABILITY_SIGNAL_MAPPING
    http = _OpenTelemetryStabilitySignalType.HTTP
    missing = object()
    previous = mapping.get(http, missing)
    mapping[http] = mode
    try:
        return OpenTelemetryMiddleware(**options)
    finally:
        if previous is missing:
            mapping.pop(http, None)
        else:
            mapping[http] = previous


def build_app(
    pipeline: Pipeline,
    admin: Sequence[BaseRoute],
    middleware: Sequence[Middleware],
    *,
    lifespan: Lifespan[Any] | None,
    instrument: bool,
    tracer_provider: trace.TracerProvider | None,
    meter_provider: metrics.MeterProvider | None,
    http_server_metrics: str = "stable",
    server_instrumentation: str = "lean",
) -> ASGIApp:
    """The gateway's ASGI app, instrumented unless ``instrument`` is false.

    The server span and duration come from :class:`LeanServerTelemetry` when it emits
    exactly what ``OpenTelemetryMiddleware`` would (see ``_server_span``), else from the
    middleware itself.
    """
    starlette = Starlette(routes=[Mount(ADMIN_PREFIX, routes=list(admin))], lifespan=lifespan)
    app: ASGIApp = _Dispatch(starlette, pipeline)
    for item in reversed(middleware):
        factory, args, kwargs = item
        app = factory(app, *args, **kwargs)
    if not instrument:
        return app
    mode = http_stability_mode()
    meter = metrics.get_meter(
        OpenTelemetryMiddleware.__module__,
        _asgi_version,
        meter_provider,
        schema_url=_get_schema_url(mode),
    )
    if lean_server_telemetry(mode, server_instrumentation, http_server_metrics):
        return LeanServerTelemetry(
            app,
            tracer=trace.get_tracer(
                OpenTelemetryMiddleware.__module__,
                _asgi_version,
                tracer_provider,
                schema_url=_get_schema_url(mode),
            ),
            duration=meter.create_histogram(
                semconv.HTTP_SERVER_REQUEST_DURATION.name,
                unit=semconv.HTTP_SERVER_REQUEST_DURATION.unit,
                description=_CONTRIB_DURATION_DESCRIPTION,
                explicit_bucket_boundaries_advisory=HTTP_DURATION_HISTOGRAM_BUCKETS_NEW,
            ),
            span_details=_span_details(pipeline, known_http_methods()),
            known_methods=configured_methods(),
        )
    # The middleware takes a span's first attributes from the scope: it sees the target
    # redacted, the gateway the one the client sent (see _redacted_scope).
    return RedactedScope(
        _scoped_middleware(
            mode,
            app=RestoredScope(app),
            default_span_details=_span_details(pipeline, known_http_methods()),
            server_request_hook=_redacting_hook(mode, configured_methods()),
            tracer_provider=tracer_provider,
            meter=meter if http_server_metrics == "all" else StableServerMeter(meter),
            exclude_spans=["receive", "send"],
        )
    )


#: How ``OpenTelemetryMiddleware`` describes its duration histogram (the lean one matches).
_CONTRIB_DURATION_DESCRIPTION = "Duration of HTTP server requests."
_CAPTURE_HEADERS = (
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST,
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE,
)


def lean_server_telemetry(
    mode: _StabilityMode, server_instrumentation: str, http_server_metrics: str
) -> bool:
    """Whether the lean server telemetry emits all that was asked for: the stable HTTP
    conventions, the stable server metric, and no captured headers."""
    return (
        server_instrumentation == "lean"
        and mode is _StabilityMode.HTTP
        and http_server_metrics == "stable"
        and not any(os.environ.get(name, "").strip() for name in _CAPTURE_HEADERS)
    )


class _Dispatch:
    """Proxied paths go straight to the pipeline; the admin API and lifespan to Starlette.

    Skipping Starlette's router and exception middleware on the hot path saves a few
    percent of the gateway's CPU per request.
    """

    def __init__(self, starlette: Starlette, pipeline: Pipeline) -> None:
        self.starlette = starlette
        self.pipeline = pipeline
        self._admin = ADMIN_PREFIX + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(self._admin):
            await self.pipeline(scope, receive, send)
        else:
            await self.starlette(scope, receive, send)


def _span_details(
    pipeline: Pipeline, known: frozenset[str]
) -> Callable[[Scope], tuple[str, dict[str, Any]]]:
    # The span name and the route's attributes depend only on the method and the route:
    # built once per pair (the attributes are only read, never changed, by the caller).
    routed: dict[tuple[str, str, str], tuple[str, dict[str, Any]]] = {}
    admin = ADMIN_PREFIX + "/"

    def details(scope: Scope) -> tuple[str, dict[str, Any]]:
        method = scope.get("method", "")
        if method not in known:
            method = semconv.HTTP_SPAN_METHOD_OTHER
        path = scope.get("path", "")
        if path.startswith(admin):
            template = admin_template(path)
            if template is None:
                return method, {}
            return f"{method} {template}", {semconv.HTTP_ROUTE: template}
        match = pipeline.match(scope)
        if match is None:
            return method, {}
        # The service is known before the span starts: an attribute given at the start
        # costs less than one set later (the pipeline then leaves it alone).
        scope[SERVICE_ON_SPAN] = True
        key = (method, match.template, match.service.service_id)
        found = routed.get(key)
        if found is None:
            found = (
                f"{method} {match.template}",
                {
                    semconv.HTTP_ROUTE: match.template,
                    semconv.GATEWAY_SERVICE_ID: match.service.service_id,
                },
            )
            if len(routed) < _MAX_ROUTES:
                routed[key] = found
        return found

    return details


#: Distinct (method, route, service) span names kept by ``_span_details``.
_MAX_ROUTES = 4096


def _redacting_hook(
    mode: _StabilityMode, known: frozenset[str] | None
) -> Callable[[trace.Span, Scope], None]:
    """The contrib middleware's request hook: redacted targets, the Host header's server
    address, and (when OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS lists them) the known methods
    the middleware's own rule (opentelemetry-util-http's list) does not apply."""
    old, new = _report_old(mode), _report_new(mode)

    def hook(span: trace.Span, scope: Scope) -> None:
        if not span.is_recording():
            return
        if new and known is not None:
            method = scope.get("method", "")
            attribute = method_name(method, known)
            span.set_attribute(semconv.HTTP_REQUEST_METHOD, attribute)
            if attribute != method:
                span.set_attribute(semconv.HTTP_REQUEST_METHOD_ORIGINAL, method)
        if new:
            # The middleware writes the bound socket as server.address (``127.0.0.1:8080``);
            # the stable conventions ask for the Host header's name and port, apart, as the
            # lean telemetry records them.
            address, port = server_address(scope)
            span.set_attribute(semconv.SERVER_ADDRESS, address)
            span.set_attribute(semconv.SERVER_PORT, port)
        query = scope.get("query_string", b"")
        path = scope.get("path", "")
        matrix = ";" in path
        if not (query or matrix):
            return
        if matrix:  # ``/x;jsessionid=...``: parameters of a path segment
            path = redact_path(path)
            if new:
                span.set_attribute(semconv.URL_PATH, path)
        redacted = redact_query(query.decode("latin-1"))
        if new and query:
            span.set_attribute(semconv.URL_QUERY, redacted)
        if old:
            target = path + ("?" + redacted if query else "")
            span.set_attribute(semconv.HTTP_TARGET, target)
            server = scope.get("server") or ("localhost", 80)
            scheme = scope.get("scheme", "http")
            span.set_attribute(semconv.HTTP_URL, f"{scheme}://{server[0]}:{server[1]}{target}")

    return hook
