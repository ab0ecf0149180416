"""A streamed answer is relayed only while its client takes it.

A client that disconnects, or stops reading, in the middle of a streamed upstream answer
must not keep holding the gateway's connection to the upstream: with
``max_connections_per_upstream = 1`` every other client would get a 503 until the upstream
had sent everything (or for ever, for a client that never reads).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from otel_agents import semconv
from otel_agents.gateway._serving import uvicorn_options
from otel_agents.testing import TelemetryCapture

from .conftest import history_after, wait_for_spans, wait_until
from .rawserver import RawListener

pytestmark = pytest.mark.integration

#: Seconds the upstream keeps streaming ``/big`` unless the gateway closes it first.
STREAM_FOR = 20.0
PIECE = 64 * 1024


class StreamingUpstream(RawListener):
    """Answers ``/big`` with an endless chunked body (a piece every ``pause`` seconds, for
    :data:`STREAM_FOR` seconds) and anything else with a short ``ok``; records, per
    connection, when the gateway closed a ``/big`` answer early."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.cut_short: dict[int, float] = {}
        self.finished: dict[int, float] = {}
        super().__init__()

    def serve(self, conn: socket.socket, number: int) -> None:
        conn.settimeout(0.05)
        data = b""
        deadline = time.monotonic() + STREAM_FOR
        while not self.stopping and time.monotonic() < deadline:
            try:
                received = conn.recv(65536)
            except TimeoutError:
                continue
            if not received:
                return
            data += received
            if b"\r\n\r\n" not in data:
                continue
            head, _, data = data.partition(b"\r\n\r\n")
            if b" /big " not in head.split(b"\r\n")[0]:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                continue
            self._stream(conn, number, deadline)
            return

    def _stream(self, conn: socket.socket, number: int, deadline: float) -> None:
        conn.settimeout(1.0)
        started = time.monotonic()
        try:
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            while not self.stopping and time.monotonic() < deadline:
                try:
                    conn.sendall(b"%x\r\n%b\r\n" % (PIECE, b"y" * PIECE))
                except TimeoutError:  # the gateway is not reading (yet): try again
                    continue
                if self.pause:
                    self.wait(self.pause)
            conn.sendall(b"0\r\n\r\n")
            self.finished[number] = time.monotonic() - started
        except OSError:
            self.cut_short[number] = time.monotonic() - started


@pytest.fixture
def streaming() -> Iterator[list[StreamingUpstream]]:
    started: list[StreamingUpstream] = []
    yield started
    for upstream in started:
        upstream.stop()


def _gateway(make_gateway: Any, upstream: StreamingUpstream, timeout: float) -> Any:
    # One failure would take the instance out of rotation (B would get a 503): a client
    # that leaves or stalls must not count against the upstream.
    gateway = make_gateway(
        {"request_timeout": timeout, "max_connections_per_upstream": 1, "unhealthy_threshold": 1}
    )
    gateway.register_service("s", "S", "v1", upstream.url)
    gateway.client.connect_timeout = 4.0  # how long a request waits for the one connection
    return gateway


def _status_line(port: int, path: str) -> bytes:
    """The status line of a ``GET path`` sent on a new connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n".encode())
        received = b""
        while b"\r\n" not in received:
            data = sock.recv(4096)
            if not data:
                break
            received += data
    return received.split(b"\r\n")[0]


def _server_span(telemetry: TelemetryCapture, status: int) -> Any:
    wait_for_spans(telemetry, "GET /v1/{path}")
    (span,) = [
        s
        for s in telemetry.spans("GET /v1/{path}")
        if s.attributes.get(semconv.HTTP_RESPONSE_STATUS_CODE) == status
        and semconv.ERROR_TYPE in s.attributes
    ]
    return span


def test_a_client_that_disconnects_mid_answer_frees_the_upstream_connection(
    make_gateway: Any, streaming: list[StreamingUpstream], telemetry: TelemetryCapture
) -> None:
    """Client A takes the head of an endless answer and leaves: the gateway closes that
    upstream connection at once, so client B gets the one connection (it got a 503 while
    the gateway pulled A's whole body for nobody); A's leaving is neutral to health."""
    upstream = StreamingUpstream(pause=0.05)
    streaming.append(upstream)
    gateway = _gateway(make_gateway, upstream, timeout=5.0)
    port = make_gateway.serve(gateway).port

    with socket.create_connection(("127.0.0.1", port), timeout=10) as a:
        a.sendall(b"GET /v1/big HTTP/1.1\r\nHost: gw\r\n\r\n")
        assert a.recv(100).startswith(b"HTTP/1.1 200 ")
    left = time.monotonic()
    wait_until(lambda: 1 in upstream.cut_short, timeout=10)
    closed_after = time.monotonic() - left

    assert _status_line(port, "/v1/small") == b"HTTP/1.1 200 OK"
    assert 1 not in upstream.finished
    assert closed_after < STREAM_FOR / 2  # long before the upstream's end
    first = history_after(gateway, 2)[0]
    assert (first["status_code"], first["error_type"]) == (
        200,
        semconv.GATEWAY_ERROR_RESPONSE_ABORTED,
    )
    span = _server_span(telemetry, 200)
    assert span.attributes[semconv.ERROR_TYPE] == semconv.GATEWAY_ERROR_RESPONSE_ABORTED


def test_a_client_that_stops_reading_is_cut_off_after_the_request_timeout(
    make_gateway: Any, streaming: list[StreamingUpstream], telemetry: TelemetryCapture
) -> None:
    """Client A asks for an endless answer and reads nothing: once a piece waits
    ``request_timeout`` seconds for A to take it, the gateway gives up on A and closes the
    upstream connection, so client B gets it (it got a 503 for as long as A stayed)."""
    upstream = StreamingUpstream(pause=0)
    streaming.append(upstream)
    gateway = _gateway(make_gateway, upstream, timeout=1.0)
    port = make_gateway.serve(gateway).port

    with socket.socket() as a:
        a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        a.settimeout(10)
        a.connect(("127.0.0.1", port))
        a.sendall(b"GET /v1/big HTTP/1.1\r\nHost: gw\r\n\r\n")
        assert a.recv(100).startswith(b"HTTP/1.1 200 ")
        # A reads nothing more: the gateway's buffers fill, its send waits for A.
        wait_until(lambda: 1 in upstream.cut_short, timeout=10)
        assert _status_line(port, "/v1/small") == b"HTTP/1.1 200 OK"

    assert 1 not in upstream.finished
    first = history_after(gateway, 2)[0]
    assert (first["status_code"], first["error_type"]) == (
        200,
        semconv.GATEWAY_ERROR_RESPONSE_TIMEOUT,
    )
    span = _server_span(telemetry, 200)
    assert span.attributes[semconv.ERROR_TYPE] == semconv.GATEWAY_ERROR_RESPONSE_TIMEOUT


def test_with_the_gateways_uvicorn_protocol_a_stalled_client_is_dropped_at_once(
    make_gateway: Any, streaming: list[StreamingUpstream]
) -> None:
    """Served with ``uvicorn_options`` (the gateway's protocol offers the abort extension),
    the connection of a client that reads nothing is dropped as soon as the gateway gives
    up on it; uvicorn's own close would wait for that client to take the buffered bytes,
    holding the connection for as long as the client stays."""
    upstream = StreamingUpstream(pause=0)
    streaming.append(upstream)
    gateway = _gateway(make_gateway, upstream, timeout=1.0)
    served = make_gateway.serve(gateway, http=uvicorn_options(gateway.config)["http"])
    connections = served.server.server_state.connections

    with socket.socket() as a:
        a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        a.settimeout(10)
        a.connect(("127.0.0.1", served.port))
        a.sendall(b"GET /v1/big HTTP/1.1\r\nHost: gw\r\n\r\n")
        assert a.recv(100).startswith(b"HTTP/1.1 200 ")
        wait_until(lambda: 1 in upstream.cut_short, timeout=10)
        wait_until(lambda: not connections, timeout=5)  # while A is still open

    assert history_after(gateway, 1)[0]["error_type"] == semconv.GATEWAY_ERROR_RESPONSE_TIMEOUT
