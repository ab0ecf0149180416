"""A slow or silent client costs one connection for a bounded time (item 4 of issue 10).

The gateway is served as ``otel-agents gateway`` serves it (``uvicorn_options``), with
timeouts of 0.5 s set through its settings; a raw-socket upstream records every byte. The
tests assert what happens (the connection is closed, a ``408`` is answered, the upstream
saw nothing), waiting up to many times the timeout, never how fast.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from otel_agents.gateway import APIGateway
from otel_agents.gateway._config import GatewayConfig
from otel_agents.gateway._serving import MAX_HEAD_SIZE, uvicorn_options

from .conftest import history_after
from .rawserver import RawUpstream, read_until_closed

pytestmark = pytest.mark.integration

_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
_TIMEOUTS = {"header_timeout": 0.5, "body_timeout": 0.5, "idle_timeout": 0.5}


@pytest.fixture
def setup(make_gateway: Any) -> Iterator[tuple[APIGateway, int, RawUpstream]]:
    upstream = RawUpstream(lambda head: _OK)
    gateway = make_gateway({"request_timeout": 5} | _TIMEOUTS)
    gateway.register_service("echo", "Echo", "v1", upstream.url)
    server = make_gateway.serve(gateway, **uvicorn_options(gateway.config))
    yield gateway, server.port, upstream
    upstream.stop()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def test_a_silent_connection_is_closed(setup: tuple[APIGateway, int, RawUpstream]) -> None:
    _, port, upstream = setup
    with connect(port) as sock:
        assert read_until_closed(sock) == b""
    assert upstream.connections == []


def test_a_half_sent_request_head_is_closed_and_never_forwarded(
    setup: tuple[APIGateway, int, RawUpstream],
) -> None:
    _, port, upstream = setup
    with connect(port) as sock:
        sock.sendall(b"GET /v1/echo HTTP/1.1\r\nHost: g\r\nX-Slow: ")
        assert read_until_closed(sock) == b""
    assert upstream.connections == []


def test_a_head_sent_a_byte_at_a_time_is_cut_off(
    setup: tuple[APIGateway, int, RawUpstream],
) -> None:
    """A slowloris that keeps the connection busy with header bytes still hits the bound."""
    _, port, upstream = setup
    closed = False
    with connect(port) as sock:
        sock.sendall(b"GET /v1/echo HTTP/1.1\r\nHost: g\r\nX-Slow: ")
        for _ in range(400):  # 40 s at most: 80 times the header timeout
            try:
                sock.sendall(b"a")
            except OSError:
                closed = True
                break
            sock.settimeout(0.1)
            try:
                if sock.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
    assert closed
    assert upstream.connections == []


def test_an_idle_keep_alive_connection_is_closed(
    setup: tuple[APIGateway, int, RawUpstream],
) -> None:
    _, port, upstream = setup
    with connect(port) as sock:
        sock.sendall(b"GET /v1/echo HTTP/1.1\r\nHost: g\r\n\r\n")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(b"ok")
    assert upstream.requests_seen() == 1


def test_a_stalled_body_is_a_408_and_never_forwarded(
    setup: tuple[APIGateway, int, RawUpstream],
) -> None:
    gateway, port, upstream = setup
    with connect(port) as sock:
        sock.sendall(b"POST /v1/echo HTTP/1.1\r\nHost: g\r\nContent-Length: 10\r\n\r\n012")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"\r\nconnection: close\r\n" in answer.lower()
    assert b"application/problem+json" in answer
    (record,) = history_after(gateway, 1)
    assert (record["status_code"], record["error_type"]) == (408, "request_timeout")
    assert upstream.connections == []


def test_timeouts_are_settings_with_env_vars() -> None:
    config = GatewayConfig.from_mapping(
        {"header_timeout": 2},
        environ={
            "OTEL_AGENTS_GATEWAY_BODY_TIMEOUT": "7.5",
            "OTEL_AGENTS_GATEWAY_IDLE_TIMEOUT": "3",
        },
    )
    assert (config.header_timeout, config.body_timeout, config.idle_timeout) == (2, 7.5, 3)
    defaults = GatewayConfig()
    assert (defaults.header_timeout, defaults.body_timeout, defaults.idle_timeout) == (10, 30, 5)
    options = uvicorn_options(config)
    assert options["timeout_keep_alive"] == 3
    assert options["http"].header_timeout == 2


def test_a_connection_busy_for_longer_than_the_timeouts_is_kept_while_it_works(
    setup: tuple[APIGateway, int, RawUpstream],
) -> None:
    """The bounds are per head and between body pieces, not per connection: a client
    that keeps sending requests keeps its connection."""
    _, port, upstream = setup
    with connect(port) as sock:
        sock.settimeout(10)
        deadline = time.monotonic() + 1.5  # three times every timeout
        sent = 0
        while time.monotonic() < deadline and sent < 1000:
            sock.sendall(b"GET /v1/echo HTTP/1.1\r\nHost: g\r\n\r\n")
            sent += 1
            answer = b""
            while not answer.endswith(b"ok"):
                chunk = sock.recv(4096)
                assert chunk, f"closed after {sent} requests"
                answer += chunk
            time.sleep(0.05)
    assert upstream.requests_seen() == sent


def test_an_oversized_request_head_is_refused_and_never_forwarded(
    setup: tuple[APIGateway, int, RawUpstream],
) -> None:
    """Within the header timeout a fast client could still send an endless head."""
    _, port, upstream = setup
    pad = b"".join(b"X-Pad-%d: %b\r\n" % (i, b"p" * 1000) for i in range(MAX_HEAD_SIZE // 1000 + 2))
    with connect(port) as sock:
        with contextlib.suppress(OSError):  # closed while still sending: refused all the same
            sock.sendall(b"GET /v1/echo HTTP/1.1\r\nHost: g\r\n" + pad + b"\r\n")
        answer = read_until_closed(sock)
    # The 400 may be lost to a reset (the server closes with our bytes unread).
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400 ")
    assert upstream.connections == []
