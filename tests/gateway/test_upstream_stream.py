"""Streamed upstream bodies give their pooled connection back, iterated or not.

A chunked (or large) upstream answer is a stream that holds one of the pool's connections;
a stream closed (or dropped) before its first piece must free that connection's slot, or
after ``max_connections_per_upstream`` such answers every request gets a 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterator
from typing import Any

import _http
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from otel_agents.gateway import GatewayRequest, GatewayResponse
from otel_agents.gateway._client import UpstreamClient, UpstreamResponse, encode_head

from .conftest import ThreadServer

pytestmark = pytest.mark.integration

PIECES = 16
PIECE = b"p" * 4096
HEAD = encode_head("GET", "/", [(b"host", b"upstream")])


@pytest.fixture
def chunked_upstream() -> Iterator[ThreadServer]:
    """A uvicorn upstream whose ``/stream`` answer is chunked (no Content-Length)."""

    async def stream(request: Request) -> Response:
        async def pieces() -> Any:
            for _ in range(PIECES):
                yield PIECE

        return StreamingResponse(pieces(), media_type="application/octet-stream")

    server = ThreadServer(Starlette(routes=[Route("/stream", stream)])).start()
    yield server
    server.stop()


def test_a_streamed_answer_whose_hook_fails_gives_its_connection_back(
    make_gateway: Any, chunked_upstream: ThreadServer
) -> None:
    """Two failing after_response hooks on chunked answers, one connection allowed: the
    next request still gets the upstream's 200 (it got a 503 when the slot leaked)."""
    failing = [True]

    class Failing:
        def after_response(self, request: GatewayRequest, response: GatewayResponse) -> None:
            if failing[0]:
                raise RuntimeError("hook bug")

    gateway = make_gateway({"max_connections_per_upstream": 1, "request_timeout": 5})
    gateway.register_service("s", "S", "v1", chunked_upstream.url)
    gateway.add_middleware(Failing())
    gateway.client.connect_timeout = 1.0  # how long a request waits for the one connection
    url = make_gateway.serve(gateway).url

    refused = [_http.get(f"{url}/v1/stream", timeout=10).status_code for _ in range(2)]
    failing[0] = False
    answers = [_http.get(f"{url}/v1/stream", timeout=10) for _ in range(2)]

    assert refused == [500, 500]
    assert [a.status_code for a in answers] == [200, 200]
    assert all(a.content == PIECE * PIECES for a in answers)


class _ClientGone(Exception):
    """What the test's ASGI ``send`` raises: the client went away."""


def test_a_streamed_answer_the_client_never_took_gives_its_connection_back(
    make_gateway: Any, chunked_upstream: ThreadServer
) -> None:
    """``send(http.response.start)`` raises (the client is gone) before the body's first
    piece: the dropped stream closes its connection, and the next request gets it."""
    gateway = make_gateway({"max_connections_per_upstream": 1, "request_timeout": 5})
    gateway.register_service("s", "S", "v1", chunked_upstream.url)
    gateway.client.connect_timeout = 1.0

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/v1/stream",
        "raw_path": b"/v1/stream",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"gateway")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def gone(message: dict[str, Any]) -> None:
        raise _ClientGone

    async def scenario() -> list[dict[str, Any]]:
        with contextlib.suppress(_ClientGone):
            await gateway.app(dict(scope), receive, gone)
        gc.collect()  # whatever cycle the exception left holds the stream no longer
        sent: list[dict[str, Any]] = []

        async def keep(message: dict[str, Any]) -> None:
            sent.append(message)

        await gateway.app(dict(scope), receive, keep)
        await gateway.client.aclose()
        return sent

    sent = asyncio.run(scenario())

    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in sent[1:]) == PIECE * PIECES


async def _chunked_server(
    connections: list[int],
) -> tuple[asyncio.Server, int]:
    """Answers every request on a connection with a small chunked body; counts connections."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _one_connection_client() -> UpstreamClient:
    # A second request past a leaked slot waits connect_timeout, then is UpstreamBusyError.
    return UpstreamClient(connect_timeout=1, read_timeout=5, max_connections_per_host=1)


@pytest.mark.parametrize("how", ["aclose-twice", "dropped"])
def test_a_stream_ended_before_its_first_piece_frees_its_slot(how: str) -> None:
    connections: list[int] = []

    async def scenario() -> UpstreamResponse:
        server, port = await _chunked_server(connections)
        client = _one_connection_client()
        try:
            first = await client.request("127.0.0.1", port, HEAD, b"")
            assert first.stream is not None
            if how == "aclose-twice":
                await first.stream.aclose()
                await first.stream.aclose()
            else:
                del first
            second = await client.request("127.0.0.1", port, HEAD, b"")
            assert second.stream is not None
            second.body = b"".join([piece async for piece in second.stream])
            return second
        finally:
            await client.aclose()
            server.close()
            await server.wait_closed()

    second = asyncio.run(scenario())

    assert (second.status, second.body) == (200, b"hello")
    assert len(connections) == 2  # the unread stream's connection was closed, not reused


def test_closing_a_stream_read_to_its_end_keeps_its_connection_pooled() -> None:
    """``aclose()`` after the end of the body is a no-op: the connection was given back to
    the pool, and the next request reuses it."""
    connections: list[int] = []

    async def scenario() -> list[bytes]:
        server, port = await _chunked_server(connections)
        client = _one_connection_client()
        bodies = []
        try:
            for _ in range(3):
                response = await client.request("127.0.0.1", port, HEAD, b"")
                assert response.stream is not None
                bodies.append(b"".join([piece async for piece in response.stream]))
                assert response.stream.closed  # given back at the end of the body
                await response.stream.aclose()
                await response.stream.aclose()
            return bodies
        finally:
            await client.aclose()
            server.close()
            await server.wait_closed()

    assert asyncio.run(scenario()) == [b"hello"] * 3
    assert len(connections) == 1
