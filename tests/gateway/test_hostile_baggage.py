"""Baggage a client sends the gateway is checked before the propagator sees it, and costs no
log lines.

The SDK's baggage propagator logs a warning per list-member it refuses, and one quoting the
whole header when it is over 8,192 bytes: one request with 179 malformed members wrote 179
WARNING lines of the client's text to the gateway's log. Now the members the W3C grammar
allows continue (several ``baggage`` headers read as one list, as W3C Baggage says) and the
rest is dropped without a word (``_carrier_guard``).
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import pytest
from opentelemetry import baggage

from otel_agents.gateway import APIGateway
from otel_agents.testing import TelemetryCapture

from ._asgi_request import http_scope, lean_telemetry, serve
from .conftest import ThreadServer, UpstreamState

_BAD = ",".join(f"bad member {i}" for i in range(179))


def _baggage_seen(headers: list[tuple[bytes, bytes]]) -> dict[str, object]:
    """The baggage the app behind the lean server telemetry runs with, for ``headers``."""
    seen: dict[str, object] = {}

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        seen.update(baggage.get_all())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    capture = TelemetryCapture()
    try:
        middleware = lean_telemetry(app, capture)
        serve(middleware, http_scope(headers=headers))
    finally:
        capture.shutdown()
    return seen


def test_malformed_members_are_dropped_without_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="opentelemetry")
    seen = _baggage_seen([(b"baggage", f"tenant=acme,{_BAD}".encode()), (b"baggage", b"u=ada")])

    assert seen == {"tenant": "acme", "u": "ada"}
    assert [r.getMessage()[:80] for r in caplog.records] == []


def test_a_baggage_over_8192_bytes_is_dropped_without_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="opentelemetry")
    seen = _baggage_seen([(b"baggage", b"tenant=acme"), (b"baggage", b"k=" + b"v" * 9000)])

    assert seen == {}
    assert [r.getMessage()[:80] for r in caplog.records] == []


@pytest.mark.integration
@pytest.mark.parametrize("setting", ["lean", "contrib"])
def test_the_upstream_gets_the_checked_members_as_one_header(
    make_gateway: Any,
    upstream: ThreadServer,
    upstream_state: UpstreamState,
    telemetry: TelemetryCapture,
    caplog: pytest.LogCaptureFixture,
    setting: str,
) -> None:
    gateway = make_gateway({"server_instrumentation": setting})
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    caplog.set_level(logging.WARNING)
    headers = [("baggage", f"tenant=acme,{_BAD}"), ("baggage", "user=ada")]

    response = gateway.route_request("GET", "/v1/users/1", headers)

    assert response.status_code == 200
    sent = [v.decode() for n, v in upstream_state.requests[-1]["headers"] if n == b"baggage"]
    assert sent == ["tenant=acme,user=ada"]
    # Neither the gateway nor the (instrumented) upstream logged a word about it.
    assert [r.getMessage()[:80] for r in caplog.records] == []


@pytest.mark.parametrize(
    ("setting", "opt_in"),
    [("lean", ""), ("contrib", ""), ("contrib", "http/dup")],
    ids=["lean", "contrib", "contrib-old-and-new-conventions"],
)
def test_no_server_instrumentation_logs_the_members_it_drops(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, setting: str, opt_in: str
) -> None:
    """The contrib middleware extracts with its own getter: the guard must apply there too."""
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", opt_in)
    capture = TelemetryCapture()
    gateway = APIGateway(
        {"server_instrumentation": setting},
        tracer_provider=capture.tracer_provider,
        meter_provider=capture.meter_provider,
    )
    caplog.set_level(logging.DEBUG, logger="opentelemetry")
    try:
        gateway.route_request("GET", "/v1/none/x", [("baggage", f"tenant=acme,{_BAD}")])
    finally:
        gateway.close()
        capture.shutdown()
    assert [r.getMessage()[:80] for r in caplog.records if r.levelno >= logging.WARNING] == []
