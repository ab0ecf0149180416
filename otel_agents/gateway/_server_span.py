"""Lean server telemetry: the SERVER span and duration ``OpenTelemetryMiddleware`` emits, cheaper.

The contrib middleware spends most of the gateway's telemetry budget on its own
book-keeping: it collects the request attributes through generic helpers that decode every
header once per lookup, sets about ten of them on the span a second time one by one, wraps
``receive`` and ``send`` in several closures, and filters the same dictionary twice at the
end. :class:`LeanServerTelemetry` emits the same telemetry on the public API only, in one
pass:

* one SERVER span (INTERNAL when a span is already current), named and routed by the same
  ``span_details`` callable, its parent extracted from the request headers by the global
  propagator, with the same attributes, status, exception event and end, except that an
  exception's message and stack trace are redacted and the status description is its type
  name only (the middleware passes on whatever credentials a message quotes), and that
  ``url.query`` and ``url.path`` have token-like and ``;`` matrix parameters masked from
  the span's start (what the gateway's request hook gives the middleware's span later:
  samplers and ``SpanProcessor.on_start`` never see the raw values), and that
  ``server.address``/``server.port`` are the Host header's name and port (the hook corrects
  the middleware's ``127.0.0.1:8080`` the same way);
* ``http.server.request.duration`` (seconds, the same bucket advice, the same attributes,
  recorded in the span's context so exemplars match);
* the global response propagator, when one is set, injected into the response head.

``tests/gateway/test_server_telemetry.py`` exports both for the same requests and compares
them field by field. It covers the stable HTTP conventions and the stable server metrics
only: for ``OTEL_SEMCONV_STABILITY_OPT_IN`` asking for the old conventions,
``http_server_metrics = "all"``, captured headers (``OTEL_INSTRUMENTATION_HTTP_CAPTURE_*``)
or ``server_instrumentation = "contrib"`` the gateway wraps itself in the contrib middleware
instead (see ``asgi.build_app``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from timeit import default_timer
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.instrumentation.asgi import asgi_setter
from opentelemetry.instrumentation.propagators import get_global_response_propagator
from opentelemetry.instrumentation.utils import (
    http_status_to_status_code,
    is_http_instrumentation_enabled,
)
from opentelemetry.metrics import Histogram
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.http import detect_synthetic_user_agent, sanitize_method
from starlette.types import ASGIApp, Receive, Scope, Send

from otel_agents import semconv
from otel_agents._carrier_guard import clean_baggage
from otel_agents._exception_events import error_status, record_exception
from otel_agents._http_methods import method_name
from otel_agents._server_address import parse_host, server_address
from otel_agents.gateway._history import redact_path, redact_query

__all__ = ["ATTRIBUTES_KEY", "LeanServerTelemetry", "record_error_type"]

SpanDetails = Callable[[Scope], tuple[str, dict[str, Any]]]
RequestHook = Callable[[trace.Span, Scope], None]

#: The attributes of ``http.server.request.duration`` in the stable conventions.
_DURATION_KEYS = (
    semconv.ERROR_TYPE,
    semconv.HTTP_REQUEST_METHOD,
    semconv.HTTP_RESPONSE_STATUS_CODE,
    semconv.HTTP_ROUTE,
    semconv.NETWORK_PROTOCOL_VERSION,
    semconv.URL_SCHEME,
)
_MAX_CACHED = 1024
#: The longest header value the per-value caches remember: they are keyed by what the client
#: sent, and 1,024 values of 64 KB (the head's bound) would pin 64 MB each. A real Host
#: (255 characters and a port) or User-Agent is shorter; a longer one is parsed per request.
_MAX_CACHED_VALUE = 512


def _decode(value: bytes) -> str:
    """A header value as the contrib middleware decodes it."""
    try:
        return value.decode("utf-8")
    except ValueError:
        return value.decode("unicode_escape")


class _ScopeGetter(Getter[Scope]):
    """Reads request headers from an ASGI scope (whose header names are lower case)."""

    def get(self, carrier: Scope, key: str) -> list[str] | None:
        name = _NAMES.get(key)
        if name is None:
            name = key.lower().encode("latin-1")
        # A plain loop: asked for headers a request seldom has, it builds nothing.
        found = None
        for header, value in carrier.get("headers") or ():
            if header == name:
                if found is None:
                    found = [_decode(value)]
                else:
                    found.append(_decode(value))
        if found is not None and name == b"baggage":
            # Checked before the propagator sees it, which would log each bad member.
            cleaned = clean_baggage(found)
            return None if cleaned is None else [cleaned]
        if found is not None and len(found) > 1 and name == b"traceparent":
            # One header, read as the comma-joined value of its field lines (RFC 9110 5.3):
            # invalid, so the request starts a trace of its own, as the W3C test suite
            # expects; the propagator would take the first, which whoever adds a header
            # chooses (and the proxy forwards neither).
            return [",".join(found)]
        return found

    def keys(self, carrier: Scope) -> list[str]:
        return [_decode(n) for n, _ in carrier.get("headers") or ()]


#: The scope key under which :class:`LeanServerTelemetry` keeps a request's attributes while
#: the app runs: an app whose request ends with an error after its response started (a
#: client gone mid-body, an upstream that broke off) adds ``error.type`` there through
#: :func:`record_error_type`, so the duration carries it as the HTTP conventions ask.
ATTRIBUTES_KEY = "otel_agents.server_attributes"


def record_error_type(scope: Scope, error_type: str) -> None:
    """The request of ``scope`` ended with ``error_type``: its duration says so (lean
    telemetry; the contrib middleware offers no way in)."""
    attributes = scope.get(ATTRIBUTES_KEY)
    if isinstance(attributes, dict):
        attributes[semconv.ERROR_TYPE] = error_type


_GETTER = _ScopeGetter()
#: The header names the default propagators ask for, as bytes.
_NAMES = {key: key.encode("latin-1") for key in ("traceparent", "tracestate", "baggage")}
_ERROR = Status(StatusCode.ERROR)
#: ``http_status_to_status_code(status, server_span=True)`` per status seen.
_CODES: dict[int, StatusCode] = {}


class LeanServerTelemetry:
    """ASGI middleware: one SERVER span and one duration per HTTP request (see module)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        tracer: trace.Tracer,
        duration: Histogram,
        span_details: SpanDetails,
        request_hook: RequestHook | None = None,
        known_methods: frozenset[str] | None = None,
    ) -> None:
        self.app = app
        #: The operator's known HTTP methods (OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS); None:
        #: opentelemetry-util-http's rule, as the contrib middleware applies it.
        self.known_methods = known_methods
        self.tracer = tracer
        self.duration = duration
        self.span_details = span_details
        self.request_hook = request_hook
        # sanitize_method and the synthetic user-agent check read the environment or scan
        # pattern lists on every call; their answers per distinct input are cached.
        self._methods: dict[str, tuple[str, str]] = {}
        self._agents: dict[bytes, tuple[str, str | None]] = {}
        self._hosts: dict[tuple[bytes, str | None], tuple[str, int]] = {}
        self._servers: dict[tuple[Any, str | None, str | None], dict[str, Any]] = {}
        self._durations: dict[tuple[Any, ...], dict[str, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = default_timer()
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        current = context.get_current()
        if current:
            # Something is attached (a caller's span, a suppression key): ask as the
            # middleware does.
            if not is_http_instrumentation_enabled():
                await self.app(scope, receive, send)
                return
            nested = trace.get_current_span(current) is not trace.INVALID_SPAN
        else:
            # An empty context (what a server's request task starts with) suppresses
            # nothing and holds no span: the three suppression lookups and the current
            # span lookup would each read the context variable again to find nothing.
            nested = False
        name, extra = self.span_details(scope)
        attributes = self._attributes(scope)
        attributes.update(extra)
        if nested:
            parent = current
            kind = SpanKind.INTERNAL
        else:
            parent = propagate.extract(scope, getter=_GETTER)
            kind = SpanKind.SERVER
        span = self.tracer.start_span(name, context=parent, kind=kind, attributes=attributes)
        # One attach of the span's context (which holds the extracted one): the middleware
        # attaches both in turn, but nothing runs between the two.
        active = trace.set_span_in_context(span, parent)
        token = context.attach(active)
        try:
            if self.request_hook is not None:
                try:
                    self.request_hook(span, scope)
                except Exception as exc:  # a failing hook never fails the request
                    record_exception(span, exc)
            scope[ATTRIBUTES_KEY] = attributes
            await self.app(scope, receive, _Send(span, send, attributes))
        except Exception as exc:
            # Unlike the middleware (which records the message as it is and puts it in the
            # status): the message and stack trace redacted, the status the type name only.
            if span.is_recording():
                record_exception(span, exc)
                span.set_status(error_status(exc))
            raise
        finally:
            context.detach(token)
            self.duration.record(
                max(default_timer() - start, 0), self._recorded(attributes), context=active
            )
            if span.is_recording():
                span.end()

    def _attributes(self, scope: Scope) -> dict[str, Any]:
        """The request attributes ``collect_request_attributes`` gives in the stable mode."""
        server = scope.get("server") or ("0.0.0.0", 80)
        if type(server) is not tuple:
            # The ASGI spec allows any two-item iterable (Starlette's TestClient sends a
            # list): the cache key must be hashable.
            server = tuple(server)
        scheme = scope.get("scheme")
        version = scope.get("http_version")
        key = (server, scheme, version)
        base = self._servers.get(key)
        if base is None:
            base = {}
            if scheme:
                base[semconv.URL_SCHEME] = scheme
            # Without a Host header: the bound socket, its address and port apart (the
            # middleware writes ``127.0.0.1:8080`` as the address; the conventions never do).
            base[semconv.SERVER_ADDRESS], port = server_address({"server": server})
            if port:
                base[semconv.SERVER_PORT] = port
            if version:
                base[semconv.NETWORK_PROTOCOL_VERSION] = version
            if len(self._servers) < _MAX_CACHED:
                self._servers[key] = base
        result = base.copy()
        path = scope.get("path")
        if path:
            # Redacted before the span starts: samplers and SpanProcessor.on_start see
            # these, and a request hook could only change them afterwards.
            result[semconv.URL_PATH] = redact_path(path) if ";" in path else path
            query = scope.get("query_string")
            if query:
                result[semconv.URL_QUERY] = redact_query(query.decode("latin-1"))
        method = scope.get("method", "")
        if method:
            found = self._methods.get(method)
            original, normalised = found if found is not None else self._method(method)
            if original != normalised:
                result[semconv.HTTP_REQUEST_METHOD_ORIGINAL] = original
            if normalised:
                result[semconv.HTTP_REQUEST_METHOD] = normalised
        # The first user-agent and the first host header (as the middleware and
        # _server_address.host_header read them): a repeated one is skipped, not taken.
        agent_seen = host_seen = False
        for header, value in scope.get("headers") or ():
            if header == b"user-agent" and not agent_seen:
                agent_seen = True
                agent, synthetic = self._agent(value)
                if agent:
                    result[semconv.USER_AGENT_ORIGINAL] = agent
                    if synthetic:
                        result[semconv.USER_AGENT_SYNTHETIC_TYPE] = synthetic
            elif header == b"host" and not host_seen:
                host_seen = True
                if value:  # an empty Host names no server
                    # The stable conventions take server.address and server.port from Host
                    # (:authority), parsed apart: the name the client asked for.
                    result[semconv.SERVER_ADDRESS], result[semconv.SERVER_PORT] = self._host(
                        value, scheme
                    )
            else:
                continue
            if agent_seen and host_seen:
                break
        client = scope.get("client")
        if client is not None:
            if client[0]:
                result[semconv.CLIENT_ADDRESS] = client[0]
            port = client[1]
            if port:
                # An int already (what servers give) is used as is; anything else is
                # converted as the middleware does, and dropped if it cannot be.
                if type(port) is int:
                    result[semconv.CLIENT_PORT] = port
                else:
                    with contextlib.suppress(TypeError, ValueError):
                        result[semconv.CLIENT_PORT] = int(port)
        return result

    def _recorded(self, attributes: dict[str, Any]) -> dict[str, Any]:
        """The duration's attributes: those of ``_DURATION_KEYS`` that the span has, one
        dict per distinct combination (the SDK copies what it keeps)."""
        get = attributes.get
        key = (
            get(semconv.ERROR_TYPE),
            get(semconv.HTTP_REQUEST_METHOD),
            get(semconv.HTTP_RESPONSE_STATUS_CODE),
            get(semconv.HTTP_ROUTE),
            get(semconv.NETWORK_PROTOCOL_VERSION),
            get(semconv.URL_SCHEME),
        )
        found = self._durations.get(key)
        if found is None:
            found = {k: attributes[k] for k in _DURATION_KEYS if k in attributes}
            if len(self._durations) < _MAX_CACHED:
                self._durations[key] = found
        return found

    def _method(self, method: str) -> tuple[str, str]:
        found = self._methods.get(method)
        if found is None:
            if self.known_methods is None:
                found = (method.strip(), sanitize_method(method).strip())
            else:
                found = (method, method_name(method, self.known_methods))
            if len(self._methods) < _MAX_CACHED:
                self._methods[method] = found
        return found

    def _host(self, value: bytes, scheme: str | None) -> tuple[str, int]:
        """``server.address`` and ``server.port`` of a Host header value (cached)."""
        key = (value, scheme)
        found = self._hosts.get(key)
        if found is None:
            found = parse_host(bytes(value).decode("latin-1"), scheme)
            if len(self._hosts) < _MAX_CACHED and len(value) <= _MAX_CACHED_VALUE:
                self._hosts[key] = found
        return found

    def _agent(self, value: bytes) -> tuple[str, str | None]:
        """The decoded user agent and its synthetic type (decoding and the pattern scan
        are cached per distinct header value)."""
        found = self._agents.get(value)
        if found is None:
            agent = _decode(value)
            found = (agent, detect_synthetic_user_agent(agent) if agent else None)
            if len(self._agents) < _MAX_CACHED and len(value) <= _MAX_CACHED_VALUE:
                self._agents[value] = found
        return found


class _Send:
    """``send`` that sets the response status on the span and ends it with the last body."""

    __slots__ = ("attributes", "send", "span")

    def __init__(self, span: trace.Span, send: Send, attributes: dict[str, Any]) -> None:
        self.span = span
        self.send = send
        self.attributes = attributes

    def __call__(self, message: MutableMapping[str, Any]) -> Awaitable[None]:
        # A plain method handing back ``send``'s awaitable: no extra coroutine per message
        # but the last, after which the span ends.
        kind = message["type"]
        if kind == "http.response.start":
            self._started(message)
        elif kind == "http.response.body" and not message.get("more_body", False):
            return self._last(message)
        return self.send(message)

    async def _last(self, message: MutableMapping[str, Any]) -> None:
        await self.send(message)
        self.span.end()

    def _started(self, message: MutableMapping[str, Any]) -> None:
        span = self.span
        status: int = message["status"]
        code = _CODES.get(status)
        if code is None:
            code = http_status_to_status_code(status, server_span=True)
            if len(_CODES) < _MAX_CACHED:
                _CODES[status] = code
        attributes = self.attributes
        attributes[semconv.HTTP_RESPONSE_STATUS_CODE] = status
        if span.is_recording():
            if code is StatusCode.ERROR:
                error = attributes[semconv.ERROR_TYPE] = str(status)
                span.set_attributes(
                    {semconv.HTTP_RESPONSE_STATUS_CODE: status, semconv.ERROR_TYPE: error}
                )
                span.set_status(_ERROR)
            else:
                # UNSET, the only other answer, is what a span's status already is (and
                # setting it is ignored by the API's contract): nothing to set.
                span.set_attribute(semconv.HTTP_RESPONSE_STATUS_CODE, status)
        elif code is StatusCode.ERROR:
            attributes[semconv.ERROR_TYPE] = str(status)
        propagator = get_global_response_propagator()  # type: ignore[no-untyped-call]
        if propagator:
            propagator.inject(
                message,
                context=trace.set_span_in_context(span, context.Context()),
                setter=asgi_setter,
            )
