"""The body of a streamed upstream response, and the pooled connection it holds.

A streamed body owns its connection until the body ends (the connection goes back to the
pool) or fails, or is closed (the connection is closed: its rest is unread). That holds
whether or not the body was ever iterated: an async generator would not do, since
``aclose()`` on a generator that never started skips its ``finally``, and the pool slot of
a response whose hook failed, or whose client went away before the first piece, was lost
for good. :meth:`ResponseStream.aclose` is safe to call twice, and a stream dropped
without it closes its connection when it is collected.

Chunked bodies are read in pieces of at most ``read_size`` bytes, however large a chunk
the upstream announces (its size may have 16 hex digits): one huge chunk is never buffered
whole, and its first bytes go on before the rest has arrived. Each chunk's data must end
in CRLF (checked once the chunk's data is read), and the trailer section is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib

from otel_agents.gateway._errors import (
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamTimeoutError,
)
from otel_agents.gateway._http1 import parse_chunk_size
from otel_agents.gateway._pool import Connection

__all__ = ["MAX_TRAILERS", "ResponseStream", "unread"]

#: Bytes of chunked trailer fields read (and dropped) before the body counts as broken.
MAX_TRAILERS = 64 * 1024


class ResponseStream:
    """An async iterator of body pieces (``bytes``, never empty) that owns its connection.

    Each piece must arrive within ``timeout`` seconds. A failure raises an
    :class:`~otel_agents.gateway.UpstreamError` and closes the connection; the end of the
    body gives it back to its pool when ``keep_alive`` allows it.
    """

    __slots__ = (
        "_chunk_left",
        "_conn",
        "_in_chunk",
        "_keep_alive",
        "_loop",
        "_mode",
        "_read_size",
        "_remaining",
        "_timeout",
    )

    def __init__(
        self,
        conn: Connection,
        *,
        length: int | None,
        chunked: bool,
        keep_alive: bool,
        timeout: float,
        read_size: int,
    ) -> None:
        self._conn: Connection | None = conn
        self._loop = asyncio.get_running_loop()
        self._mode = "chunked" if chunked else ("length" if length is not None else "close")
        self._remaining = length or 0
        # A body read to the end of the connection leaves nothing to reuse.
        self._keep_alive = keep_alive and self._mode != "close"
        self._timeout = timeout
        self._read_size = read_size
        self._chunk_left = 0  # data bytes of the current chunk not read yet
        self._in_chunk = False  # a chunk's data was read: its CRLF comes next

    @property
    def closed(self) -> bool:
        """Whether the connection was already given back or closed."""
        return self._conn is None

    def __aiter__(self) -> ResponseStream:
        return self

    async def __anext__(self) -> bytes:
        conn = self._conn
        if conn is None:
            raise StopAsyncIteration
        try:
            async with asyncio.timeout(self._timeout):
                piece = await self._next_piece(conn.reader)
        except TimeoutError:
            self._settle(reuse=False)
            raise UpstreamTimeoutError("the upstream body did not arrive in time") from None
        except asyncio.LimitOverrunError as exc:
            self._settle(reuse=False)
            raise UpstreamProtocolError("the upstream sent an overlong chunk line") from exc
        except (asyncio.IncompleteReadError, OSError) as exc:
            self._settle(reuse=False)
            raise UpstreamConnectError("the upstream body was cut short") from exc
        except BaseException:  # a protocol error, or the task was cancelled mid-read
            self._settle(reuse=False)
            raise
        if piece is None:
            self._settle(reuse=True)
            raise StopAsyncIteration
        return piece

    async def aclose(self) -> None:
        """Stop reading: an unfinished body's connection is closed (idempotent)."""
        self._settle(reuse=False)

    def __del__(self) -> None:
        # The safety net for a stream its owner dropped without aclose() (a hook, a send or
        # a cancellation failed first): the connection's pool slot must come back.
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        loop = self._loop
        with contextlib.suppress(Exception):  # never raise from a finalizer
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop or loop.is_closed():  # closed: nothing else uses its pool
                conn.close()
            else:  # collected in another thread: the pool belongs to the loop's thread
                loop.call_soon_threadsafe(conn.close)

    # -- reading -------------------------------------------------------------------------
    async def _next_piece(self, reader: asyncio.StreamReader) -> bytes | None:
        """The next piece of the body, or ``None`` at its end."""
        if self._mode == "chunked":
            return await self._next_chunk_piece(reader)
        if self._mode == "length":
            if not self._remaining:
                return None
            piece = await reader.read(min(self._remaining, self._read_size))
            if not piece:
                raise UpstreamConnectError("the upstream closed the body early")
            self._remaining -= len(piece)
            return piece
        piece = await reader.read(self._read_size)
        return piece or None

    async def _next_chunk_piece(self, reader: asyncio.StreamReader) -> bytes | None:
        if not self._chunk_left:
            if self._in_chunk:
                if await reader.readexactly(2) != b"\r\n":
                    raise UpstreamProtocolError("the upstream sent a chunk without CRLF")
                self._in_chunk = False
            size = parse_chunk_size(await reader.readuntil(b"\r\n"))
            if size == 0:
                await _skip_trailers(reader)
                return None
            if size <= self._read_size:  # the usual case: one read, data and CRLF
                chunk = await reader.readexactly(size + 2)
                if chunk[-2:] != b"\r\n":
                    raise UpstreamProtocolError("the upstream sent a chunk without CRLF")
                return chunk[:-2]
            self._chunk_left = size
            self._in_chunk = True
        piece = await reader.read(min(self._chunk_left, self._read_size))
        if not piece:
            raise UpstreamConnectError("the upstream closed the body inside a chunk")
        self._chunk_left -= len(piece)
        return piece

    def _settle(self, *, reuse: bool) -> None:
        """Give the connection back (a body read to its end) or close it; once."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if reuse and self._keep_alive and not unread(conn):
            conn.pool.release(conn)
        else:
            conn.close()


async def _skip_trailers(reader: asyncio.StreamReader) -> None:
    """Read the trailer section up to its blank line: trailers are hop-by-hop here."""
    seen = 0
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        seen += len(line)
        if seen > MAX_TRAILERS:
            raise UpstreamProtocolError("the upstream sent an overlong trailer section")


def unread(conn: Connection) -> bool:
    """Bytes already received past the end of the response (a body after a 204, say): the
    next request on this connection would read them as its answer, so it is not reused."""
    # StreamReader keeps them in ``_buffer``; no public API says how much is buffered.
    return bool(getattr(conn.reader, "_buffer", b""))
