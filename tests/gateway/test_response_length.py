"""The ``Content-Length`` the gateway declares to its client: one number, and none where no
body can follow.

The server running the gateway (uvicorn) reads the response's ``Content-Length`` again to
frame the body it sends. An upstream's ``304`` may carry the length of the full
representation (RFC 9110 §8.6), which uvicorn then waited for in vain (it raised, the
server span recorded an error and the connection was closed); ``Content-Length: 2, 2`` is
one valid length written twice (§8.6), which uvicorn cannot parse (the client got an
empty reply while the history said 200).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

from otel_agents import semconv
from otel_agents.testing import TelemetryCapture

from .conftest import history_after, wait_for_spans
from .rawserver import RawUpstream

pytestmark = pytest.mark.integration

ANSWERS = {
    b"/not-modified": b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 1234\r\n\r\n',
    b"/no-content": b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
    b"/listed": b"HTTP/1.1 200 OK\r\nContent-Length: 2, 02\r\n\r\nok",
    b"/head": b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
}


def _answer(head: bytes) -> bytes:
    target = head.split(b"\r\n")[0].split(b" ")[1]
    return ANSWERS[target]


@pytest.fixture
def gateway_port(make_gateway: Any) -> Iterator[tuple[Any, int]]:
    upstream = RawUpstream(_answer)
    gateway = make_gateway({"request_timeout": 5})
    gateway.register_service("raw", "Raw", "v1", upstream.url)
    yield gateway, make_gateway.serve(gateway).port
    upstream.stop()


def _exchange(sock: socket.socket, method: str, path: str, body: int) -> tuple[bytes, bytes]:
    """Send one request on ``sock``; its answer's head and ``body`` bytes of body."""
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: gw\r\n\r\n".encode())
    received = b""
    while b"\r\n\r\n" not in received or len(received.partition(b"\r\n\r\n")[2]) < body:
        data = sock.recv(65536)
        if not data:
            raise AssertionError(f"the gateway closed the connection; got {received!r}")
        received += data
    head, _, rest = received.partition(b"\r\n\r\n")
    return head, rest


def _lengths(head: bytes) -> list[bytes]:
    return [
        line.partition(b":")[2].strip()
        for line in head.split(b"\r\n")[1:]
        if line.lower().startswith(b"content-length:")
    ]


def test_no_content_length_reaches_the_client_where_no_body_follows(
    gateway_port: tuple[Any, int], telemetry: TelemetryCapture
) -> None:
    """A ``304`` with the representation's length and a ``204`` with ``0`` arrive without
    ``Content-Length``, on a connection that stays open for the next request, and the
    server spans record no error."""
    gateway, port = gateway_port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        not_modified, _ = _exchange(sock, "GET", "/v1/not-modified", 0)
        no_content, _ = _exchange(sock, "GET", "/v1/no-content", 0)
        listed, body = _exchange(sock, "GET", "/v1/listed", 2)

    assert not_modified.startswith(b"HTTP/1.1 304 ")
    assert b'etag: "v1"' in not_modified.lower()
    assert _lengths(not_modified) == []
    assert no_content.startswith(b"HTTP/1.1 204 ")
    assert _lengths(no_content) == []
    assert listed.startswith(b"HTTP/1.1 200 ")
    assert (_lengths(listed), body) == ([b"2"], b"ok")
    records = history_after(gateway, 3)
    assert [(r["status_code"], r["error_type"]) for r in records] == [
        (304, ""),
        (204, ""),
        (200, ""),
    ]
    wait_for_spans(telemetry, "GET /v1/{path}")
    spans = telemetry.spans("GET /v1/{path}")
    assert len(spans) == 3
    for span in spans:
        assert span.status.status_code is StatusCode.UNSET
        assert semconv.ERROR_TYPE not in span.attributes
        assert not span.events


def test_a_head_answer_keeps_the_length_a_get_would_have(gateway_port: tuple[Any, int]) -> None:
    """``HEAD`` is answered with the fields a ``GET`` would get (RFC 9110 §9.3.2), its
    ``Content-Length`` included, and no body."""
    _, port = gateway_port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head, rest = _exchange(sock, "HEAD", "/v1/head", 0)
        listed, body = _exchange(sock, "GET", "/v1/listed", 2)

    assert head.startswith(b"HTTP/1.1 200 ")
    assert (_lengths(head), rest) == ([b"1234"], b"")
    assert (_lengths(listed), body) == ([b"2"], b"ok")
