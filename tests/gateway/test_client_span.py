"""The CLIENT span of each upstream call and the trace context it sends upstream."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.trace import SpanKind

from otel_agents.gateway._history import REDACTED
from otel_agents.testing import TelemetryCapture

from .conftest import ThreadServer, UpstreamState

pytestmark = pytest.mark.integration

_INCOMING = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_the_callers_traceparent_is_replaced_by_one_naming_the_client_span(
    make_gateway: Any,
    upstream: ThreadServer,
    upstream_state: UpstreamState,
    telemetry: TelemetryCapture,
) -> None:
    gateway = make_gateway()
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")

    response = gateway.route_request("GET", "/v1/users/7", {"traceparent": _INCOMING})

    assert response.status_code == 200
    sent = [v for n, v in upstream_state.requests[-1]["headers"] if n == b"traceparent"]
    (client,) = [s for s in telemetry.spans("GET") if s.kind is SpanKind.CLIENT]
    assert sent == [
        f"00-0af7651916cd43dd8448eb211c80319c-{client.context.span_id:016x}-01".encode()
    ]
    server = telemetry.span("GET /v1/users/{path}")
    assert client.parent is not None
    assert client.parent.span_id == server.context.span_id
    assert server.parent is not None
    assert server.parent.span_id == 0xB7AD6B7169203331


def test_client_spans_name_the_instance_called_and_redact_the_query(
    make_gateway: Any, upstream: ThreadServer, telemetry: TelemetryCapture
) -> None:
    gateway = make_gateway()
    by_name = upstream.url.replace("127.0.0.1", "localhost")
    gateway.register_service("users", "Users", "v1", [upstream.url, by_name], path_prefix="/users")

    for _ in range(2):
        gateway.route_request("GET", "/v1/users/9", query_params={"token": "hunter2", "page": 3})

    clients = [s for s in telemetry.spans("GET") if s.kind is SpanKind.CLIENT]
    assert len(clients) == 2
    attributes = sorted((dict(s.attributes or {}) for s in clients), key=str)
    port = upstream.port
    assert attributes == [
        {
            "http.request.method": "GET",
            "server.address": "127.0.0.1",
            "server.port": port,
            "url.full": f"http://127.0.0.1:{port}/users/9?token={REDACTED}&page=3",
            "gateway.service.id": "users",
            "http.response.status_code": 200,
        },
        {
            "http.request.method": "GET",
            "server.address": "localhost",
            "server.port": port,
            "url.full": f"http://localhost:{port}/users/9?token={REDACTED}&page=3",
            "gateway.service.id": "users",
            "http.response.status_code": 200,
        },
    ]
