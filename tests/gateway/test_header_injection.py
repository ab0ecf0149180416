"""No CR/LF from a caller ever reaches an upstream as more headers or a second request.

``route_request`` refuses a CR, LF or NUL in ``user_agent`` and ``client_ip`` (they become
``User-Agent`` and ``X-Forwarded-For`` upstream) as it does in ``headers``; whatever path a
header comes by, the upstream encoder refuses to write an invalid head, and the gateway
answers ``400`` (recorded, ``error_type`` ``invalid_header``) with nothing sent upstream.
A raw-socket upstream records every byte it receives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from otel_agents import semconv
from otel_agents._errors import InvalidValueError
from otel_agents.gateway import GatewayResponse
from otel_agents.gateway._inprocess import build_scope, call_app
from otel_agents.testing import TelemetryCapture

from .conftest import wait_for_spans
from .rawserver import RawUpstream

pytestmark = pytest.mark.integration

_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
_SMUGGLED = "x\r\nContent-Length: 0\r\n\r\nDELETE /users/42 HTTP/1.1\r\nHost: internal\r\nX-Pad: "


@pytest.fixture
def raw() -> Iterator[RawUpstream]:
    upstream = RawUpstream(lambda head: _OK, linger=5.0)
    yield upstream
    upstream.stop()


@pytest.mark.parametrize(
    ("client_ip", "user_agent", "named"),
    [
        ("unknown", _SMUGGLED, "user_agent"),
        ("unknown", "seed-client\r\nX-Injected: via-user-agent", "user_agent"),
        ("unknown", "seed-client\nX-Injected: lf-only", "user_agent"),
        ("unknown", "seed\0client", "user_agent"),
        ("10.0.0.1\r\nX-Injected-Ip: via-client-ip", "unknown", "client_ip"),
        ("10.0.0.1\nDELETE /users/42 HTTP/1.1", "unknown", "client_ip"),
    ],
    ids=["ua-smuggle", "ua-crlf", "ua-lf", "ua-nul", "ip-crlf", "ip-lf"],
)
def test_route_request_refuses_line_breaks_in_user_agent_and_client_ip(
    make_gateway: Any, raw: RawUpstream, client_ip: str, user_agent: str, named: str
) -> None:
    """The refusal names the parameter; the upstream receives not one byte."""
    gateway = make_gateway()
    gateway.register_service("user_service", "User Management", "v1", raw.url)

    with pytest.raises(InvalidValueError, match=f"^{named}=") as caught:
        gateway.route_request("GET", "/v1/users", None, None, None, client_ip, user_agent)

    assert "without CR, LF or NUL" in str(caught.value)
    assert len(str(caught.value)) < 300  # the value is shortened (short_repr)
    ok = gateway.route_request("GET", "/v1/users", None, None, None, "10.0.0.1", "seed/1.0")
    assert ok.status_code == 200
    assert raw.requests_seen() == 1  # only the good request, no smuggled second one
    received = bytes(raw.connections[0].received)
    assert received.startswith(b"GET /users HTTP/1.1\r\n")
    assert b"DELETE" not in received
    assert b"X-Injected" not in received


def _run_on_app(gateway: Any, scope: dict[str, Any]) -> GatewayResponse:
    """Call the gateway's ASGI app with ``scope`` as a server would, on a loop of its own."""

    async def call() -> GatewayResponse:
        try:
            return await call_app(gateway.app, scope, b"")
        finally:
            await gateway.client.aclose()

    return asyncio.run(call())


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: s["headers"].append((b"x-note", b"a\r\nX-Injected: 1")),
        lambda s: s["headers"].append((b"x-note", b"a\r\n\r\nDELETE /users/42 HTTP/1.1")),
        lambda s: s["headers"].append((b"x-note", b"a\nX-Injected: lf")),
        lambda s: s["headers"].append((b"x-note", b"a\0b")),
        lambda s: s["headers"].append((b"transfer-encoding ", b"chunked")),
        lambda s: s["headers"].append((b"x-note\r\nx-injected", b"1")),
        lambda s: s.update(client=("10.0.0.1\r\nX-Injected: via-peer", 0)),
    ],
    ids=["crlf-value", "smuggle", "lf-value", "nul-value", "name-space", "crlf-name", "peer"],
)
def test_an_invalid_header_from_the_asgi_server_is_a_400_never_sent_upstream(
    make_gateway: Any, raw: RawUpstream, telemetry: TelemetryCapture, tamper: Any
) -> None:
    """Defence in depth: an ASGI server that let a CR/LF through (or a header name that is
    not a token) gets a 400 problem; the request is recorded and its CLIENT span failed."""
    gateway = make_gateway()
    gateway.register_service("user_service", "User Management", "v1", raw.url)
    scope, _ = build_scope("GET", "/v1/users", None, None, None, "10.0.0.1", "seed/1.0")
    tamper(scope)

    response = _run_on_app(gateway, scope)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "CR, LF or NUL" in response.json()["detail"]
    assert raw.accepted == 0
    assert raw.requests_seen() == 0
    (record,) = gateway.get_request_history()
    assert record["status_code"] == 400
    assert record["error_type"] == semconv.GATEWAY_ERROR_INVALID_HEADER
    assert record["service_id"] == "user_service"
    wait_for_spans(telemetry, "GET")
    (client_span,) = telemetry.spans("GET")
    assert client_span.attributes[semconv.ERROR_TYPE] == semconv.GATEWAY_ERROR_INVALID_HEADER


def test_a_valid_request_through_the_asgi_path_still_reaches_the_upstream(
    make_gateway: Any, raw: RawUpstream
) -> None:
    """The check refuses only broken heads: tabs and latin-1 text in values pass."""
    gateway = make_gateway()
    gateway.register_service("user_service", "User Management", "v1", raw.url)
    scope, _ = build_scope(
        "GET", "/v1/users", {"X-Note": "a\tb caf\u00e9"}, None, None, "10.0.0.1", "seed/1.0"
    )

    response = _run_on_app(gateway, scope)

    assert response.status_code == 200
    assert raw.requests_seen() == 1
    assert b"x-note: a\tb caf\xe9\r\n" in bytes(raw.connections[0].received)
