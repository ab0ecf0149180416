"""An upstream that cuts a streamed body short: a failed request, not a clean success.

The answer's head (a 200) has reached the client by then, so the status stays; the
``error.type`` of the upstream's failure goes to the history, the CLIENT and SERVER spans
and ``gateway.upstream.errors``, the passive health check counts a failure, and the client's
connection is closed without the body's end, so it cannot take the truncated body for a
complete one. None of it is raised into the server, which logged a traceback per request
(log spam a hostile upstream controls).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from otel_agents import semconv
from otel_agents.gateway._serving import uvicorn_options
from otel_agents.testing import TelemetryCapture

from .conftest import history_after, wait_for_spans
from .rawserver import RawListener, read_until_closed

pytestmark = pytest.mark.integration

SENT = 300_000
ANSWERS = {
    "length": b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * SENT,
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n" + b"x" * SENT,
}


class CuttingUpstream(RawListener):
    """Answers each request with ``answer`` (a body cut short) and closes the connection."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        super().__init__()

    def serve(self, conn: socket.socket, number: int) -> None:
        conn.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            received = conn.recv(65536)
            if not received:
                return
            data += received
        conn.sendall(self.answer)


class _Records(logging.Handler):
    """Records what uvicorn's error logger emits once :meth:`attach` is called (after the
    server started: uvicorn's logging set-up removes handlers attached before)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.logger = logging.getLogger("uvicorn.error")

    def attach(self) -> None:
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def server_log() -> Iterator[_Records]:
    """What the server running the gateway logs (uvicorn's error logger)."""
    handler = _Records()
    yield handler
    handler.logger.removeHandler(handler)


def _get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /v1/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
        return read_until_closed(sock)


@pytest.mark.parametrize("protocol", ["uvicorn", "gateway"])
@pytest.mark.parametrize("framing", sorted(ANSWERS))
def test_a_body_cut_short_is_a_failed_request(
    make_gateway: Any,
    telemetry: TelemetryCapture,
    server_log: _Records,
    framing: str,
    protocol: str,
) -> None:
    """Two answers cut short: each client sees its connection closed before the body's
    end; each request is recorded with ``error.type=connect_error``; the second failure in
    a row takes the instance out of rotation (``unhealthy_threshold = 2``), so a third
    request is answered 503; the server logged no traceback (and, served with the
    gateway's protocol, which offers the abort extension, nothing at all)."""
    upstream = CuttingUpstream(ANSWERS[framing])
    try:
        gateway = make_gateway({"request_timeout": 5, "unhealthy_threshold": 2})
        gateway.register_service("cut", "Cut", "v1", upstream.url)
        options = {"http": uvicorn_options(gateway.config)["http"]} if protocol == "gateway" else {}
        port = make_gateway.serve(gateway, **options).port
        server_log.attach()

        answers = [_get(port) for _ in range(2)]
        third = _get(port)
    finally:
        upstream.stop()

    for answer in answers:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        assert b"0\r\n\r\n" not in body[-5:]  # no last chunk either
        assert len(body) < 1_000_000
    assert third.startswith(b"HTTP/1.1 503 ")
    records = history_after(gateway, 3)
    assert [(r["status_code"], r["error_type"]) for r in records[:2]] == [
        (200, "connect_error"),
        (200, "connect_error"),
    ]
    wait_for_spans(telemetry, "GET", "GET /v1/{path}")
    clients = [s for s in telemetry.spans("GET") if s.kind is SpanKind.CLIENT]
    servers = telemetry.spans("GET /v1/{path}")[:2]
    assert len(clients) == 2
    for span in clients + servers:
        assert span.attributes[semconv.ERROR_TYPE] == "connect_error"
        assert span.status.status_code is StatusCode.ERROR
    errors = telemetry.points(
        semconv.GATEWAY_UPSTREAM_ERRORS.name, {semconv.ERROR_TYPE: "connect_error"}
    )
    assert sum(p.value for p in errors) == 2
    # The duration of a request that ended with an error carries it (HTTP conventions).
    durations = telemetry.points(
        semconv.HTTP_SERVER_REQUEST_DURATION.name, {semconv.ERROR_TYPE: "connect_error"}
    )
    assert sum(p.count for p in durations) == 2
    logged = [r.getMessage() for r in server_log.records]
    assert not [r for r in server_log.records if r.exc_info], logged
    if protocol == "gateway":
        assert logged == []
    else:  # uvicorn's one line per response left unfinished
        assert logged == ["ASGI callable returned without completing response."] * 2
