"""The pooled HTTP/1.1 upstream client against raw asyncio servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import pytest

from otel_agents.gateway import UpstreamConnectError, UpstreamProtocolError, UpstreamTimeoutError
from otel_agents.gateway._client import (
    READ_CHUNK_SIZE,
    UpstreamClient,
    UpstreamResponse,
    encode_head,
)

pytestmark = pytest.mark.integration

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
HEAD = encode_head("GET", "/", [(b"host", b"upstream")])


async def call(
    handler: Handler,
    *,
    requests: int = 1,
    timeout: float = 2.0,
    read_chunk_size: int = READ_CHUNK_SIZE,
    pieces: list[bytes] | None = None,
) -> list[UpstreamResponse]:
    """Each response of ``requests`` made one after the other, its stream read whole (its
    pieces appended to ``pieces``)."""
    handlers: list[asyncio.Task[None]] = []

    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        try:
            await handler(reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    server = await asyncio.start_server(closing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = UpstreamClient(
        connect_timeout=timeout, read_timeout=timeout, read_chunk_size=read_chunk_size
    )
    try:
        responses = []
        for _ in range(requests):
            response = await client.request("127.0.0.1", port, HEAD, b"")
            if response.stream is not None:
                got: list[bytes] = []
                try:
                    async for chunk in response.stream:
                        got.append(chunk)
                finally:
                    if pieces is not None:
                        pieces.extend(got)
                response.body = b"".join(got)
            responses.append(response)
        return responses
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()
        # Let every connection handler see the client go and close its side.
        await asyncio.wait_for(asyncio.gather(*handlers, return_exceptions=True), 5)


def test_interim_1xx_answers_are_skipped() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        )
        await writer.drain()
        writer.close()

    (response,) = asyncio.run(call(handler))
    assert (response.status, response.body) == (200, b"ok")


def test_chunked_bodies_are_decoded_and_trailers_dropped() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        await writer.drain()
        writer.close()

    (response,) = asyncio.run(call(handler))
    assert response.body == b"hello world"
    assert (b"transfer-encoding", b"chunked") in response.headers


def test_a_pooled_connection_closed_while_idle_is_retried_once() -> None:
    served = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        await reader.readuntil(b"\r\n\r\n")
        served += 1
        # Keep-alive promised, then the connection is closed: the next request on it is
        # stale and must go out again on a fresh connection.
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d" % served)
        await writer.drain()
        writer.close()

    responses = asyncio.run(call(handler, requests=2))
    assert [r.body for r in responses] == [b"1", b"2"]


def test_silence_is_a_timeout_and_garbage_a_protocol_error() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.read()  # say nothing until the client gives up and closes

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        await writer.drain()
        writer.close()

    async def early_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    with pytest.raises(UpstreamTimeoutError):
        asyncio.run(call(silent, timeout=0.1))
    with pytest.raises(UpstreamProtocolError):
        asyncio.run(call(garbage))
    with pytest.raises(UpstreamConnectError):
        asyncio.run(call(early_close))


def _answer(head: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(head)
        await writer.drain()
        await reader.read()  # hold the connection open: only framing may end the body

    return handler


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 1_0\r\n\r\n0123456789",
        b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 99\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 +20 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
    ],
    ids=[
        "cl-underscore",
        "cl-plus",
        "cl-negative",
        "cl-hex",
        "cl-duplicate-conflict",
        "cl-list-conflict",
        "te-and-cl",
        "te-xchunked",
        "te-chunked-twice",
        "te-in-http10",
        "chunk-size-plus",
        "chunk-without-crlf",
        "space-before-colon",
        "obs-fold",
        "bare-lf-in-value",
        "bad-status",
        "unrequested-101",
    ],
)
def test_ambiguous_response_framing_is_a_protocol_error(head: bytes) -> None:
    """RFC 9112 framing the gateway could read differently from its client: refused."""
    with pytest.raises(UpstreamProtocolError):
        asyncio.run(call(_answer(head)))


def test_repeated_identical_content_lengths_and_leading_zeros_are_accepted() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 05\r\nContent-Length: 5, 5\r\n\r\nhello"
    (response,) = asyncio.run(call(_answer(head)))
    assert response.body == b"hello"


def test_bytes_past_the_end_of_a_response_are_never_read_as_the_next_answer() -> None:
    """A 204 followed by a whole forged response: the connection is not pooled, so the next
    request gets the upstream's real answer on a new connection."""
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        if connections == 1:
            writer.write(
                b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"
            )
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal")
        await writer.drain()
        await reader.read()

    first, second = asyncio.run(call(handler, requests=2))
    assert first.status == 204
    assert (second.status, second.body) == (200, b"real")
    assert connections == 2


def test_a_huge_chunk_is_passed_on_in_pieces_before_it_has_all_arrived() -> None:
    """A 1 GiB chunk announced, 192 KiB of it sent, then silence: the client yields those
    bytes in pieces of at most its read size instead of waiting for the whole chunk."""
    sent = 3 * 65536
    held = asyncio.Event()

    async def scenario() -> list[bytes]:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40000000\r\n")
            writer.write(b"x" * sent)
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(held.wait(), 10)
            writer.close()

        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = UpstreamClient(connect_timeout=5, read_timeout=5, read_chunk_size=16384)
        pieces: list[bytes] = []
        try:
            response = await client.request("127.0.0.1", port, HEAD, b"")
            assert response.stream is not None
            async for piece in response.stream:
                pieces.append(piece)
                if sum(map(len, pieces)) >= sent:
                    break
            await response.stream.aclose()
            return pieces
        finally:
            held.set()
            await client.aclose()
            server.close()
            await server.wait_closed()

    pieces = asyncio.run(scenario())

    assert b"".join(pieces) == b"x" * sent
    assert max(map(len, pieces)) <= 16384


def test_a_chunk_larger_than_the_read_size_arrives_whole_and_keeps_the_connection() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        for _ in range(2):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"%x\r\n%b\r\n3\r\nend\r\n0\r\n\r\n" % (100_000, b"y" * 100_000)
            )
            await writer.drain()
        await reader.read()

    pieces: list[bytes] = []
    responses = asyncio.run(call(handler, requests=2, read_chunk_size=4096, pieces=pieces))

    assert [r.body for r in responses] == [b"y" * 100_000 + b"end"] * 2
    assert max(map(len, pieces)) <= 4096
    assert connections == 1  # read to its end, the connection went back to the pool


@pytest.mark.parametrize(
    "chunk",
    [
        b"%x\r\n%b" % (100_000, b"z" * 100_000) + b"XX0\r\n\r\n",
        b"%x\r\n%b\r\n0\r\n\r\n" % (10_000, b"w" * 10_010),
    ],
    ids=["large-chunk-without-crlf", "chunk-longer-than-announced"],
)
def test_chunk_data_not_ending_in_crlf_is_a_protocol_error_after_its_pieces(chunk: bytes) -> None:
    pieces: list[bytes] = []
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

    with pytest.raises(UpstreamProtocolError):
        asyncio.run(call(_answer(head + chunk), read_chunk_size=4096, pieces=pieces))
    assert pieces  # the chunk's data went on as it came; its missing CRLF ends the body
    assert max(map(len, pieces)) <= 4096
