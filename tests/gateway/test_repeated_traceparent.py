"""A request with two ``traceparent`` headers has no valid trace context.

``traceparent`` is a single-value header: two of them cannot both name the caller's span,
and picking one (the first, the last) lets whoever adds a header choose the trace the
gateway's work joins. As the W3C test suite expects (the two values read together as one
comma-joined value, which is invalid), the gateway treats the context as absent: it starts
a trace of its own, and with telemetry off it forwards neither value (nor the
``tracestate`` that belongs to them) upstream.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from otel_agents.gateway import APIGateway
from otel_agents.testing import TelemetryCapture

from ._asgi_request import http_scope, lean_telemetry, serve
from .conftest import ThreadServer, UpstreamState

_FIRST = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
_SECOND = "00-11111111111111111111111111111111-2222222222222222-01"
_CALLER_TRACES = {int(p.split("-")[1], 16) for p in (_FIRST, _SECOND)}


def _sent(upstream_state: UpstreamState, name: bytes) -> list[str]:
    return [v.decode() for n, v in upstream_state.requests[-1]["headers"] if n == name]


@pytest.fixture
def untraced_gateway(upstream: ThreadServer) -> Iterator[APIGateway]:
    """Telemetry off, as with ``otel-agents gateway --no-telemetry``: nothing injected."""
    gateway = APIGateway(None, tracer_provider=trace.NoOpTracerProvider(), instrument=False)
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    try:
        yield gateway
    finally:
        gateway.close()


@pytest.mark.integration
def test_without_telemetry_two_traceparents_forward_no_trace_context(
    untraced_gateway: APIGateway, upstream_state: UpstreamState
) -> None:
    headers = [("traceparent", _FIRST), ("traceparent", _SECOND), ("tracestate", "vendor=x")]

    response = untraced_gateway.route_request("GET", "/v1/users/1", headers)

    assert response.status_code == 200
    assert _sent(upstream_state, b"traceparent") == []
    assert _sent(upstream_state, b"tracestate") == []


@pytest.mark.integration
def test_without_telemetry_one_traceparent_is_forwarded_as_it_came(
    untraced_gateway: APIGateway, upstream_state: UpstreamState
) -> None:
    headers = [("traceparent", _FIRST), ("tracestate", "vendor=x")]

    untraced_gateway.route_request("GET", "/v1/users/1", headers)

    assert _sent(upstream_state, b"traceparent") == [_FIRST]
    assert _sent(upstream_state, b"tracestate") == ["vendor=x"]


@pytest.mark.integration
def test_with_telemetry_two_traceparents_start_a_trace_of_the_gateways_own(
    make_gateway: Any,
    upstream: ThreadServer,
    upstream_state: UpstreamState,
    telemetry: TelemetryCapture,
) -> None:
    gateway = make_gateway()
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    headers = [("traceparent", _FIRST), ("traceparent", _SECOND)]

    assert gateway.route_request("GET", "/v1/users/1", headers).status_code == 200

    server = telemetry.span("GET /v1/users/{path}")
    assert server.parent is None
    assert server.context.trace_id not in _CALLER_TRACES
    (sent,) = _sent(upstream_state, b"traceparent")
    assert int(sent.split("-")[1], 16) == server.context.trace_id


async def _answer(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize(
    ("headers", "parent_trace"),
    [
        ([(b"traceparent", _FIRST.encode())], int(_FIRST.split("-")[1], 16)),
        ([(b"traceparent", _FIRST.encode()), (b"traceparent", _SECOND.encode())], None),
    ],
    ids=["one", "two"],
)
def test_the_server_span_continues_only_a_single_traceparent(
    headers: list[tuple[bytes, bytes]], parent_trace: int | None
) -> None:
    capture = TelemetryCapture()
    try:
        app = lean_telemetry(_answer, capture)
        serve(app, http_scope(headers=headers))
        (span,) = capture.spans()
    finally:
        capture.shutdown()

    assert span.kind is SpanKind.SERVER
    if parent_trace is None:
        assert span.parent is None
        assert span.context.trace_id not in _CALLER_TRACES
    else:
        assert span.parent is not None
        assert span.context.trace_id == parent_trace
