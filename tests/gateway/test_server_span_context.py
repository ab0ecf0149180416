"""What the lean server telemetry decides from the current context, and what it caches.

The middleware reads the context once: an empty one (what a server's request task starts
with) takes a short path, anything attached is asked about suppression and a current span
as ``OpenTelemetryMiddleware`` asks. These tests drive ``LeanServerTelemetry`` in process
with ASGI messages (no sockets) and check each path's spans and durations.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
from opentelemetry import context, trace
from opentelemetry.instrumentation.utils import (
    suppress_http_instrumentation,
    suppress_instrumentation,
)
from opentelemetry.trace import SpanKind, StatusCode

from otel_agents import semconv
from otel_agents.gateway._server_span import LeanServerTelemetry
from otel_agents.testing import TelemetryCapture

from ._asgi_request import http_scope, lean_telemetry, serve

_PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def _answer(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    """Answers with the status named by the path (``/404``), else 200."""
    status = int(scope["path"].strip("/") or 200)
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _details(scope: MutableMapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return f"{scope['method']} /{{status}}", {semconv.HTTP_ROUTE: "/{status}"}


def _scope(path: str = "/200", headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    return http_scope(path, headers or [(b"user-agent", b"pytest")])


@pytest.fixture
def capture() -> Iterator[TelemetryCapture]:
    found = TelemetryCapture()
    yield found
    found.shutdown()


@pytest.fixture
def lean(capture: TelemetryCapture) -> LeanServerTelemetry:
    return lean_telemetry(_answer, capture, span_details=_details)


def _durations(capture: TelemetryCapture) -> list[tuple[dict[str, Any], int]]:
    points = capture.points(semconv.HTTP_SERVER_REQUEST_DURATION.name)
    return sorted(
        ((dict(p.attributes), p.count) for p in points),
        key=lambda item: str(sorted(item[0].items())),
    )


def test_an_empty_context_gives_a_server_span_whose_parent_comes_from_the_headers(
    lean: LeanServerTelemetry, capture: TelemetryCapture
) -> None:
    assert not context.get_current()  # asyncio.run starts each request from this one
    serve(lean, _scope(headers=[(b"traceparent", _PARENT.encode())]))
    (span,) = capture.spans()
    assert span.kind is SpanKind.SERVER
    assert span.parent is not None
    assert span.parent.is_remote
    assert span.parent.span_id == int("b7ad6b7169203331", 16)


def test_a_current_span_makes_the_request_span_an_internal_child(
    lean: LeanServerTelemetry, capture: TelemetryCapture
) -> None:
    outer = capture.tracer_provider.get_tracer("test").start_span("outer")
    with trace.use_span(outer, end_on_exit=True):
        serve(lean, _scope(headers=[(b"traceparent", _PARENT.encode())]))
    inner = capture.span("GET /{status}")
    assert inner.kind is SpanKind.INTERNAL
    assert inner.parent is not None
    assert inner.parent.span_id == outer.get_span_context().span_id


@pytest.mark.parametrize("suppress", [suppress_http_instrumentation, suppress_instrumentation])
def test_suppressed_instrumentation_records_nothing_and_still_serves(
    suppress: Any, lean: LeanServerTelemetry, capture: TelemetryCapture
) -> None:
    with suppress():
        sent = serve(lean, _scope())
    assert sent[0]["status"] == 200
    assert capture.spans() == []
    assert semconv.HTTP_SERVER_REQUEST_DURATION.name not in capture.metrics()


def test_other_context_values_leave_the_span_a_server_span(
    lean: LeanServerTelemetry, capture: TelemetryCapture
) -> None:
    token = context.attach(context.set_value("unrelated", True))
    try:
        serve(lean, _scope())
    finally:
        context.detach(token)
    (span,) = capture.spans()
    assert span.kind is SpanKind.SERVER
    assert span.parent is None


def test_each_status_gets_its_own_duration_attributes_and_span_status(
    lean: LeanServerTelemetry, capture: TelemetryCapture
) -> None:
    for path in ("/200", "/500", "/200", "/404", "/500"):
        serve(lean, _scope(path))
    base = {
        semconv.HTTP_REQUEST_METHOD: "GET",
        semconv.HTTP_ROUTE: "/{status}",
        semconv.NETWORK_PROTOCOL_VERSION: "1.1",
        semconv.URL_SCHEME: "http",
    }
    assert _durations(capture) == sorted(
        [
            ({**base, semconv.HTTP_RESPONSE_STATUS_CODE: 200}, 2),
            ({**base, semconv.HTTP_RESPONSE_STATUS_CODE: 404}, 1),
            ({**base, semconv.HTTP_RESPONSE_STATUS_CODE: 500, semconv.ERROR_TYPE: "500"}, 2),
        ],
        key=lambda item: str(sorted(item[0].items())),
    )
    statuses = [
        (s.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] if s.attributes else None, s.status)
        for s in capture.spans()
    ]
    assert [(code, status.status_code) for code, status in statuses] == [
        (200, StatusCode.UNSET),
        (500, StatusCode.ERROR),
        (200, StatusCode.UNSET),
        (404, StatusCode.UNSET),
        (500, StatusCode.ERROR),
    ]
    assert all(status.description is None for _, status in statuses)


@pytest.mark.parametrize(
    ("host", "address", "port"),
    [
        (b"api.example.com:8443", "api.example.com", 8443),
        # An empty port is the scheme's default (RFC 3986 3.2.3), its ":" not in the name.
        (b"api.example.com:", "api.example.com", 80),
        (b"[2001:db8::1]:", "[2001:db8::1]", 80),
        (b"2001:db8::1", "2001:db8::1", 80),  # no brackets: its last group is no port
        (b"", "127.0.0.1", 8000),  # an empty Host names no server: the bound socket
        (None, "127.0.0.1", 8000),
    ],
)
def test_server_address_is_the_host_header_else_the_socket(
    lean: LeanServerTelemetry,
    capture: TelemetryCapture,
    host: bytes | None,
    address: str,
    port: int,
) -> None:
    """``server.address``/``server.port`` apart, from Host (stable HTTP server span)."""
    headers = [(b"user-agent", b"pytest")] + ([] if host is None else [(b"host", host)])
    serve(lean, _scope(headers=headers))
    (span,) = capture.spans()
    assert span.attributes is not None
    assert (span.attributes["server.address"], span.attributes["server.port"]) == (address, port)


@pytest.mark.parametrize(
    "headers",
    [
        [(b"host", b"first.example:8443"), (b"host", b"second.example:9000")],
        [(b"user-agent", b"a"), (b"user-agent", b"b"), (b"host", b"first.example:8443")],
    ],
    ids=["two-hosts", "two-user-agents-before-host"],
)
def test_server_address_is_the_first_host_header_whatever_comes_before_it(
    lean: LeanServerTelemetry, capture: TelemetryCapture, headers: list[tuple[bytes, bytes]]
) -> None:
    """The first Host, as the contrib mode's hook and the messaging hub read it
    (``_server_address.host_header``), and the first User-Agent, as the middleware reads it:
    a repeated header neither replaces the first nor hides the Host after it."""
    serve(lean, _scope(headers=headers))
    (span,) = capture.spans()
    assert span.attributes is not None
    assert (span.attributes["server.address"], span.attributes["server.port"]) == (
        "first.example",
        8443,
    )
    assert span.attributes.get("user_agent.original") in (None, "a")


def test_huge_host_and_user_agent_headers_are_not_kept_by_the_per_value_caches(
    lean: LeanServerTelemetry, capture: TelemetryCapture
) -> None:
    """The caches of parsed Host and User-Agent values are keyed by what the client sent:
    kept whole, 1,024 heads of 64 KB each (the server's bound) pinned 64 MB per cache for
    the gateway's life. A value too long to be a real one is parsed, not remembered; the
    span still gets it (the address cut at 255 characters)."""
    for index in range(50):
        host = b"h%d" % index + b"x" * 50_000
        agent = b"a%d" % index + b"y" * 50_000
        serve(lean, _scope(headers=[(b"host", host), (b"user-agent", agent)]))
    held = sum(len(key[0]) for key in lean._hosts) + sum(len(key) for key in lean._agents)
    assert held < 100_000
    span = capture.spans()[-1]
    assert span.attributes is not None
    assert span.attributes["server.address"] == ("h49" + "x" * 50_000)[:255]
    assert str(span.attributes["user_agent.original"]).startswith("a49yyy")
