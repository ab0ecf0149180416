"""A request whose body was not completely received never reaches the upstream (item 5
of issue 10). Real gateway (uvicorn) and a raw-socket upstream that records every byte."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from otel_agents.gateway import APIGateway

from .conftest import history_after
from .rawserver import RawUpstream, read_until_closed

pytestmark = pytest.mark.integration

_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.fixture
def setup(make_gateway: Any) -> Iterator[tuple[APIGateway, int, RawUpstream]]:
    upstream = RawUpstream(lambda head: _OK)
    gateway = make_gateway({"request_timeout": 5, "max_body_size": 2_000_000})
    gateway.register_service("echo", "Echo", "v1", upstream.url)
    server = make_gateway.serve(gateway)
    yield gateway, server.port, upstream
    upstream.stop()


def send_and_close(port: int, data: bytes) -> None:
    """Send ``data`` and close the connection without waiting for an answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)


def send_and_read(port: int, data: bytes) -> bytes:
    """Send ``data`` and return whatever the gateway answers before it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        return read_until_closed(sock)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /v1/echo HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"10\r\n0123456789abcdef\r\n",
        b"POST /v1/echo HTTP/1.1\r\nHost: g\r\nContent-Length: 100\r\n\r\n0123456789",
        b"POST /v1/echo HTTP/1.1\r\nHost: g\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 300_000,
    ],
    ids=["chunked-after-first-chunk", "short-content-length", "large-content-length"],
)
def test_an_aborted_upload_never_reaches_the_upstream(
    setup: tuple[APIGateway, int, RawUpstream], request_bytes: bytes
) -> None:
    gateway, port, upstream = setup
    send_and_close(port, request_bytes)

    (record,) = history_after(gateway, 1)
    assert record["status_code"] == 499
    assert record["error_type"] == "request_aborted"
    assert upstream.connections == []


def test_a_request_the_server_rejected_never_reaches_the_upstream(
    setup: tuple[APIGateway, int, RawUpstream],
) -> None:
    gateway, port, upstream = setup
    answer = send_and_read(
        port,
        b"POST /v1/echo HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: xchunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
    )

    assert answer.startswith(b"HTTP/1.1 400 ")
    (record,) = history_after(gateway, 1)
    assert record["error_type"] == "request_aborted"
    assert upstream.connections == []


def test_a_complete_chunked_upload_is_forwarded_with_its_length(
    setup: tuple[APIGateway, int, RawUpstream],
) -> None:
    _, port, upstream = setup
    answer = send_and_read(
        port,
        b"POST /v1/echo HTTP/1.1\r\nHost: g\r\nConnection: close\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    )

    assert answer.startswith(b"HTTP/1.1 200 ")
    (connection,) = upstream.connections
    received = bytes(connection.received)
    assert b"\r\ncontent-length: 11\r\n" in received
    assert received.endswith(b"\r\n\r\nhello world")


@pytest.mark.parametrize(
    "head",
    [
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        b"Content-Length: 5\r\nContent-Length: 6\r\n",
        b"Content-Length: +5\r\n",
        b"Content-Length: 1_0\r\n",
        b"Transfer-Encoding: chunked, gzip\r\n",
    ],
    ids=["te-and-cl", "cl-conflict", "cl-plus", "cl-underscore", "te-not-chunked-last"],
)
def test_ambiguous_request_framing_is_refused_and_never_forwarded(
    setup: tuple[APIGateway, int, RawUpstream], head: bytes
) -> None:
    """The server (llhttp, strict) refuses request smuggling shapes before the gateway."""
    _, port, upstream = setup
    answer = send_and_read(
        port, b"POST /v1/smuggle HTTP/1.1\r\nHost: g\r\n" + head + b"\r\n5\r\nhello\r\n0\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 400 ")
    follow_up = send_and_read(port, b"GET /v1/ok HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n")
    assert follow_up.startswith(b"HTTP/1.1 200 ")
    received = b"".join(bytes(c.received) for c in upstream.connections)
    assert b"/smuggle" not in received
    assert upstream.requests_seen() == 1


@pytest.fixture
def lenient(make_gateway: Any) -> Iterator[tuple[APIGateway, int, RawUpstream]]:
    """The gateway on a lenient server (uvicorn's h11 accepts Content-Length together with
    Transfer-Encoding and frames the body as chunked): the gateway's own checks decide."""
    upstream = RawUpstream(lambda head: _OK)
    gateway = make_gateway({"request_timeout": 5})
    gateway.register_service("echo", "Echo", "v1", upstream.url)
    server = make_gateway.serve(gateway, http="h11")
    yield gateway, server.port, upstream
    upstream.stop()


@pytest.mark.parametrize(
    ("head", "body"),
    [
        # CL.TE: an empty chunked body declared as 40 bytes. Forwarded as declared, the
        # upstream would read the next request on the pooled connection as this one's body.
        (b"Content-Length: 40\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
        (b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", b"5\r\nhello\r\n0\r\n\r\n"),
    ],
    ids=["cl-te", "te-cl"],
)
def test_a_lenient_server_does_not_make_the_gateway_forward_ambiguous_framing(
    lenient: tuple[APIGateway, int, RawUpstream], head: bytes, body: bytes
) -> None:
    gateway, port, upstream = lenient
    answer = send_and_read(port, b"GET /v1/smuggle HTTP/1.1\r\nHost: g\r\n" + head + b"\r\n" + body)

    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"not both" in answer
    (record,) = history_after(gateway, 1)
    assert record["status_code"] == 400
    assert upstream.connections == []


def test_the_length_declared_upstream_is_the_length_read(
    lenient: tuple[APIGateway, int, RawUpstream],
) -> None:
    _, port, upstream = lenient
    answer = send_and_read(
        port,
        b"POST /v1/echo HTTP/1.1\r\nHost: g\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
    )

    assert answer.startswith(b"HTTP/1.1 200 ")
    (connection,) = upstream.connections
    received = bytes(connection.received)
    assert received.count(b"content-length") == 1
    assert b"\r\ncontent-length: 5\r\n" in received
    assert received.endswith(b"\r\n\r\nhello")


@pytest.mark.parametrize("declared", [b"005", b"5, 5"])
def test_a_length_written_another_valid_way_is_the_same_length(
    lenient: tuple[APIGateway, int, RawUpstream], declared: bytes
) -> None:
    _, port, upstream = lenient
    answer = send_and_read(
        port,
        b"POST /v1/echo HTTP/1.1\r\nHost: g\r\nConnection: close\r\n"
        b"Content-Length: " + declared + b"\r\n\r\nhello",
    )

    assert answer.startswith(b"HTTP/1.1 200 "), answer
    (connection,) = upstream.connections
    assert b"\r\ncontent-length: 5\r\n" in bytes(connection.received)
