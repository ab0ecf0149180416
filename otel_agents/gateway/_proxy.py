"""Forwarding one request upstream: headers per RFC 9110, X-Forwarded-*, trace context.

Hop-by-hop headers (RFC 9110 §7.6.1: ``Connection`` and every header it names,
``Proxy-Connection``, ``Keep-Alive``, ``TE``, ``Transfer-Encoding``, ``Upgrade``, plus
``Proxy-Authenticate``/``Proxy-Authorization`` and ``Trailer``) are stripped in both
directions *before* the gateway adds its own (``Host``, ``Content-Length``,
``X-Forwarded-*``, ``traceparent``), so a client cannot make the gateway drop those.

``X-Forwarded-For`` from the peer is trusted only when the peer is a configured proxy; the
client address is then the right-most untrusted entry. From any other peer every
``X-Forwarded-*`` header, ``Forwarded`` and the usual client-address headers
(:data:`CLIENT_ADDRESS_HEADERS`: ``X-Real-IP``, ``True-Client-IP``, ...) are dropped; the
gateway writes ``X-Forwarded-For/-Proto/-Host`` itself. Each upstream call is a CLIENT span
whose context goes upstream in W3C ``traceparent`` (see ``tracecontext`` for what of the
caller's trace context is forwarded). As a proxy should (RFC 9110 §7.6.3), the gateway
adds ``Via`` both ways; the response's one ``Date`` is written by the server running it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.propagators.textmap import Setter
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_agents import semconv
from otel_agents.gateway._client import UpstreamClient, UpstreamResponse, encode_head
from otel_agents.gateway._errors import InvalidRequestHeadError, UpstreamError
from otel_agents.gateway._forwarded import ForwardedPolicy
from otel_agents.gateway._history import redact_path, redact_query
from otel_agents.gateway._http1 import length_items
from otel_agents.gateway._registry import Instance
from otel_agents.gateway._telemetry import GatewayTelemetry, mark_failed
from otel_agents.gateway._tracecontext import valid_traceparent, valid_tracestate

__all__ = [
    "CLIENT_ADDRESS_HEADERS",
    "FORWARDED_PREFIX",
    "HOP_BY_HOP",
    "VIA_PSEUDONYM",
    "Proxy",
    "strip_hop_by_hop",
]

Headers = list[tuple[bytes, bytes]]

#: Distinct (service, upstream, method) CLIENT span templates kept; more are built per call.
_MAX_TEMPLATES = 4096

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"proxy-connection",
        b"keep-alive",
        b"te",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"trailer",
    }
)
_FORWARDED = frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"})
#: Headers in which a proxy tells the upstream who the client is or how it was reached
#: (besides ``X-Forwarded-*``, which all count): dropped unless the peer is a trusted
#: proxy, since an upstream may believe them (a client that sets ``X-Real-IP`` would pick
#: its own address; ``X-Forwarded-Prefix`` or ``-Port`` would steer generated URLs).
CLIENT_ADDRESS_HEADERS = frozenset(
    {
        b"forwarded",
        b"x-real-ip",
        b"true-client-ip",
        b"x-client-ip",
        b"cf-connecting-ip",
        b"fastly-client-ip",
        b"x-cluster-client-ip",
    }
)
#: Every ``X-Forwarded-*`` header is dropped from an untrusted peer (the gateway writes
#: ``-For``, ``-Proto`` and ``-Host`` itself).
FORWARDED_PREFIX = b"x-forwarded-"
_TRACE_CONTEXT = frozenset({b"traceparent", b"tracestate"})
#: How the gateway names itself in ``Via`` (a pseudonym: no host name or address leaks).
VIA_PSEUDONYM = "otel-agents-gateway"
#: Set by the gateway itself; ``Expect`` because the gateway already has (or streams) the
#: body and must not wait for an upstream's ``100 Continue``.
_REPLACED = frozenset({b"host", b"content-length", b"expect"})


def connection_named(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Header names listed in ``Connection`` (they are hop-by-hop too)."""
    named: set[bytes] = set()
    for name, value in headers:
        if name == b"connection":
            named.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return frozenset(named)


def strip_hop_by_hop(headers: Iterable[tuple[bytes, bytes]]) -> Headers:
    """``headers`` without hop-by-hop ones (names must already be lower case)."""
    headers = list(headers)
    named = connection_named(headers)
    if named:
        return [(n, v) for n, v in headers if n not in HOP_BY_HOP and n not in named]
    return [(n, v) for n, v in headers if n not in HOP_BY_HOP]


class Proxy:
    """Builds upstream requests and sends them through the pooled client: ``client`` for
    the operator's upstreams, ``checked_client`` (its connections checked at connect:
    ``_connect_check``) for instances from the admin API or discovery."""

    def __init__(
        self,
        client: UpstreamClient,
        telemetry: GatewayTelemetry,
        forwarded: ForwardedPolicy,
        *,
        checked_client: UpstreamClient,
    ) -> None:
        self.client = client
        self.checked_client = checked_client
        self.telemetry = telemetry
        self.forwarded = forwarded
        self._templates: dict[tuple[str, Instance, str], tuple[str, dict[str, Any], str]] = {}

    def request_headers(
        self,
        headers: Headers,
        instance: Instance,
        *,
        peer: str,
        scheme: str,
        content_length: int | None,
        consumed: bytes | None = None,
        http_version: str = "1.1",
    ) -> Headers:
        """Upstream request headers: stripped, then Host, framing, X-Forwarded-*, ``Via``
        and (only when valid) the caller's trace context added.

        ``consumed`` names the credential header the gateway checked itself; it is dropped.
        """
        named = connection_named(headers)
        trusted = self.forwarded.trusted(peer)
        drop_auth = instance.url.authorization is not None
        out: Headers = []
        xff = proto = fhost = host = None
        parents: list[bytes] = []
        states: list[bytes] = []
        for name, value in headers:
            if name in HOP_BY_HOP or name in _REPLACED:
                if name == b"host":
                    host = value
                continue
            if name == b"traceparent":
                parents.append(value)
                continue
            if name == b"tracestate":
                states.append(value)
                continue
            if name in _FORWARDED:
                if name == b"x-forwarded-for":
                    xff = value if xff is None else xff + b", " + value
                elif name == b"x-forwarded-proto":
                    proto = value
                else:
                    fhost = value
                continue
            if name in named or name == consumed or (drop_auth and name == b"authorization"):
                continue
            if not trusted and (
                name in CLIENT_ADDRESS_HEADERS or name.startswith(FORWARDED_PREFIX)
            ):
                continue
            out.append((name, value))
        url = instance.url
        out.append((b"host", url.host_header))
        if url.authorization:
            out.append((b"authorization", url.authorization))
        if content_length is not None:
            out.append((b"content-length", b"%d" % content_length))
        peer_bytes = peer.encode("latin-1")
        out.append(
            (b"x-forwarded-for", xff + b", " + peer_bytes if trusted and xff else peer_bytes)
        )
        out.append((b"x-forwarded-proto", proto if trusted and proto else scheme.encode()))
        forwarded_host = fhost if trusted and fhost else host
        if forwarded_host:
            out.append((b"x-forwarded-host", forwarded_host))
        out.append((b"via", _VIA_REQUEST.get(http_version) or _via(http_version)))
        if len(parents) == 1 and valid_traceparent(parents[0]):
            out.append((b"traceparent", parents[0].strip(b" \t")))
            state = b",".join(states)
            if states and valid_tracestate(state):
                out.append((b"tracestate", state))
        return out

    async def forward(
        self,
        service_id: str,
        instance: Instance,
        method: str,
        target: str,
        headers: Headers,
        body: bytes | AsyncIterator[bytes],
    ) -> tuple[UpstreamResponse, trace.Span]:
        """Send the request inside a CLIENT span; the caller ends the span.

        Raises :class:`UpstreamError`, or :class:`InvalidRequestHeadError` for a head that
        is not valid HTTP/1.1 (never sent); the span is then ended, with ``error.type``.
        """
        url = instance.url
        telemetry = self.telemetry
        name, base, origin = self._span_template(service_id, instance, method)
        path, _, query = target.partition("?")
        full = origin + (redact_path(path) if ";" in path else path)
        if query:
            full += "?" + redact_query(query)
        attributes = base.copy()
        attributes[semconv.URL_FULL] = full
        # The current context, read once and passed on: the tracer, its sampler (twice),
        # the propagation and the duration's exemplar would each read it again.
        current = context.get_current()
        span = telemetry.tracer.start_span(
            name, context=current, kind=SpanKind.CLIENT, attributes=attributes
        )
        injected: Headers = []
        propagate.inject(injected, context=trace.set_span_in_context(span, current), setter=_SETTER)
        if injected:
            # Our span's context replaces the caller's; with telemetry off (nothing
            # injected) the caller's passes, if request_headers found it valid.
            names: frozenset[bytes] = _TRACE_CONTEXT  # the usual case: a traceparent alone
            if len(injected) > 1 or injected[0][0] not in _TRACE_CONTEXT:
                names = _TRACE_CONTEXT.union(n for n, _ in injected)
            headers = [h for h in headers if h[0] not in names]
            headers.extend(h for h in injected if h[0] != b"tracestate" or valid_tracestate(h[1]))
        try:
            head = encode_head(method, target, headers)
        except InvalidRequestHeadError as exc:  # nothing was sent: no upstream metrics
            mark_failed(span, exc.error_type)
            span.end()
            raise
        start = time.perf_counter()
        try:
            client = self.checked_client if instance.checked else self.client
            response = await client.request(
                url.host,
                url.port,
                head,
                body,
                method=method.encode(),
                tls=url.scheme == "https",
            )
        except UpstreamError as exc:
            attrs = telemetry.client_attrs(service_id, method, instance, 0, exc.error_type)
            telemetry.record_upstream(attrs, time.perf_counter() - start, True, current)
            mark_failed(span, exc.error_type)
            span.end()
            raise
        status = response.status
        # The HTTP client conventions: any status >= 400 is an error, error.type its code, on
        # the span and on http.client.request.duration alike; only 5xx count as upstream
        # failures (gateway.upstream.errors), a 4xx being the client's own doing.
        failed = status >= 500
        error_type = str(status) if status >= 400 else ""
        attrs = telemetry.client_attrs(service_id, method, instance, status, error_type)
        telemetry.record_upstream(attrs, time.perf_counter() - start, failed, current)
        if span.is_recording():
            span.set_attribute(semconv.HTTP_RESPONSE_STATUS_CODE, status)
            if status >= 400:
                span.set_attribute(semconv.ERROR_TYPE, str(status))
                span.set_status(Status(StatusCode.ERROR))
        return response, span

    def _span_template(
        self, service_id: str, instance: Instance, method: str
    ) -> tuple[str, dict[str, Any], str]:
        """The CLIENT span's name, fixed attributes and URL origin, built once per key."""
        known = self.telemetry.method_attribute(method)
        # An unknown method keys its own template: the span records it as sent
        # (http.request.method_original), the name and http.request.method stay bounded.
        key = (service_id, instance, method)
        found = self._templates.get(key)
        if found is None:
            url = instance.url
            base: dict[str, Any] = {
                semconv.HTTP_REQUEST_METHOD: known,
                semconv.SERVER_ADDRESS: url.host,
                semconv.SERVER_PORT: url.port,
                semconv.GATEWAY_SERVICE_ID: service_id,
            }
            if known != method:  # Conditionally Required when it differs (HTTP conventions)
                base[semconv.HTTP_REQUEST_METHOD_ORIGINAL] = method
            found = (
                "HTTP" if known == "_OTHER" else known,
                base,
                f"{url.scheme}://{url.host_header.decode()}",
            )
            if len(self._templates) < _MAX_TEMPLATES:
                self._templates[key] = found
        return found


class _HeaderSetter(Setter[Headers]):
    """Sets injected fields in a (short) list of raw headers; a field set twice keeps the
    last value, as it would in a dict carrier."""

    def set(self, carrier: Headers, key: str, value: str) -> None:
        name = _FIELD_NAMES.get(key)
        if name is None:
            name = key.lower().encode("latin-1")
            if len(_FIELD_NAMES) < _MAX_TEMPLATES:
                _FIELD_NAMES[key] = name
        field = (name, value.encode("latin-1"))
        for index, (existing, _) in enumerate(carrier):
            if existing == name:
                carrier[index] = field
                return
        carrier.append(field)


_SETTER = _HeaderSetter()
#: Propagation field names as header names (propagators set a handful of fixed fields).
_FIELD_NAMES: dict[str, bytes] = {}


def response_headers(upstream: Headers, extra: Headers, status: int = 200) -> Headers:
    """Headers for the client: the upstream's without hop-by-hop ones and without ``Date``,
    plus ``Via`` and ``extra``; ``Content-Length`` as one number, or none where no body can
    follow (``status`` 1xx, 204, 304).

    The server that runs the gateway (uvicorn, hypercorn) writes a ``Date`` on every
    response itself; forwarding the upstream's too would send two. It also reads
    ``Content-Length`` again to frame the body it sends: a ``304`` may carry the length of
    the representation (RFC 9110 §8.6) that the server would then wait for, and a valid
    ``2, 2`` (one length written twice, checked by ``_http1``) is not a number to it. A
    ``HEAD`` answer keeps its length: it is the one a ``GET`` would have (§9.3.2), and the
    server knows that no body follows a ``HEAD``.
    """
    named = connection_named(upstream)
    length_allowed = status >= 200 and status not in _NO_LENGTH
    length_seen = False
    out: Headers = []
    for name, value in upstream:
        if name in HOP_BY_HOP or name == b"date" or (named and name in named):
            continue
        if name == b"content-length":
            # The framing already agreed on one length (``_http1``); it goes on once.
            if length_allowed and not length_seen:
                if not value.isdigit() or (value[0] == 48 and len(value) > 1):  # "2, 2", "02"
                    items = length_items(value)
                    value = items[0] if items else b""
                if value:
                    out.append((name, value))
            length_seen = True
            continue
        out.append((name, value))
    out.append(_VIA_RESPONSE)
    if extra:
        out.extend(extra)
    return out


#: Answers that never have a body, so no length for the server to frame one by.
_NO_LENGTH = frozenset({204, 304})


def _via(http_version: str) -> bytes:
    """``Via`` for a message received over HTTP ``http_version`` (RFC 9110 §7.6.3)."""
    return f"{http_version} {VIA_PSEUDONYM}".encode("latin-1")


_VIA_REQUEST = {v: _via(v) for v in ("1.0", "1.1", "2", "3")}
#: Upstream responses arrive over HTTP/1.1 (the gateway's client speaks nothing else).
_VIA_RESPONSE = (b"via", _via("1.1"))
