"""A lean, pooled asyncio HTTP/1.1 client for upstream calls.

The gateway spends most of its time talking to upstreams, so this client does only what a
reverse proxy needs: keep-alive connections pooled per (host, port) and per event loop, at
most ``max_connections_per_host`` of them (``gateway/pool.py``),
``Content-Length`` and chunked framing both ways, streamed bodies, and timeouts on connect
and on every read. It was chosen over httpx by measurement (see ``docs/gateway.md``): httpx
spends far more CPU per request than the rest of the gateway together.

Responses up to :data:`INLINE_BODY_LIMIT` bytes with a ``Content-Length`` are read whole and
the connection goes straight back to the pool; larger or chunked bodies are streamed by a
:class:`~otel_agents.gateway._upstream_body.ResponseStream`, which holds the connection until
the body ends or the stream is closed.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from otel_agents.gateway._connect_check import ConnectCheck
from otel_agents.gateway._errors import (
    InvalidRequestHeadError,
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamTimeoutError,
)
from otel_agents.gateway._http1 import check_request_head, parse_response_head
from otel_agents.gateway._pool import (
    DEFAULT_KEEPALIVE_EXPIRY,
    Connection as _Connection,
    HostPool,
)
from otel_agents.gateway._upstream_body import ResponseStream, unread

__all__ = [
    "IDEMPOTENT_METHODS",
    "INLINE_BODY_LIMIT",
    "READ_CHUNK_SIZE",
    "UpstreamClient",
    "UpstreamResponse",
]

#: Methods whose repetition has the effect of one request (RFC 9110 §9.2.2): the only ones
#: sent again after a reused connection failed under them.
IDEMPOTENT_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})

INLINE_BODY_LIMIT = 256 * 1024
#: The largest piece of a streamed body read at once (``read_chunk_size``).
READ_CHUNK_SIZE = 64 * 1024
_MAX_HEAD = 64 * 1024
_NO_BODY_STATUS = frozenset({204, 304})

Headers = list[tuple[bytes, bytes]]


@dataclass
class UpstreamResponse:
    """An upstream's answer: status, raw headers and either a whole body or a stream."""

    status: int
    headers: Headers
    body: bytes = b""
    #: A body too large to read whole, or chunked: iterate it, or ``aclose()`` it, to end
    #: the use of its connection (see ``_upstream_body``).
    stream: ResponseStream | None = field(default=None, repr=False)


class UpstreamClient:
    """Pooled HTTP/1.1 client. Safe to share between event loops (one pool per loop)."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_idle_per_host: int = 128,
        max_connections_per_host: int = 256,
        ssl_context: ssl.SSLContext | None = None,
        read_chunk_size: int = READ_CHUNK_SIZE,
        keepalive_expiry: float = DEFAULT_KEEPALIVE_EXPIRY,
        clock: Callable[[], float] = time.monotonic,
        connect_check: ConnectCheck | None = None,
    ) -> None:
        """``max_connections_per_host``: open connections to one upstream, idle included;
        a request beyond it waits up to ``connect_timeout`` for one, then fails with
        ``UpstreamBusyError``. ``ssl_context`` verifies ``https`` upstreams; by default the
        system's CA store (and ``SSL_CERT_FILE``), loaded once per process. A streamed
        body comes in pieces of at most ``read_chunk_size`` bytes, whatever the size of the
        upstream's chunks: what one response holds in memory is bounded by it. An idle
        pooled connection is closed, not reused, once it has idled ``keepalive_expiry``
        seconds by ``clock`` (monotonic; inject a fake one in tests): see ``_pool``.
        ``connect_check``: resolve each new connection's host name here and connect only to
        checked addresses (the client of upstreams from the admin API and discovery; see
        ``_connect_check``); ``None`` connects by name (the operator's own upstreams)."""
        self.connect_timeout = connect_timeout
        self.ssl_context = ssl_context
        self.read_timeout = read_timeout
        self.max_idle_per_host = max_idle_per_host
        self.max_connections_per_host = max_connections_per_host
        self.read_chunk_size = read_chunk_size
        self.keepalive_expiry = keepalive_expiry
        self._clock = clock
        self.connect_check = connect_check
        self._pools: dict[asyncio.AbstractEventLoop, dict[tuple[str, int, bool], HostPool]] = {}

    async def request(
        self,
        host: str,
        port: int,
        head: bytes,
        body: bytes | AsyncIterator[bytes],
        *,
        method: bytes = b"GET",
        tls: bool = False,
    ) -> UpstreamResponse:
        """Send one request whose head (request line and headers) is already encoded.

        ``head`` ends with the blank line. When ``body`` is an iterator the head must already
        carry ``Content-Length`` or ``Transfer-Encoding: chunked``; chunked bodies are framed
        here. ``method`` (as sent in ``head``) decides the framing of the answer and whether
        the request may be sent twice.

        A pooled connection that turns out to be closed by the upstream (the send fails,
        or the connection ends before any byte of an answer) is retried once on a new
        connection, only when the body is replayable (``bytes``) and the method is
        idempotent (:data:`IDEMPOTENT_METHODS`, RFC 9110 §9.2.2). RFC 9112 §9.3.1 says a
        proxy MUST NOT automatically retry a non-idempotent request, and nothing here can
        prove that an upstream which closed the connection had not read and executed it (a
        failed send included: the bytes written before the failure may have been read). So a
        ``POST`` or ``PATCH`` lost that way fails with :class:`UpstreamConnectError` (a
        ``502``) and is never executed twice; a connection seen closed *before* the request
        is written is not used at all, for any method.
        """
        chunked = not isinstance(body, bytes) and b"transfer-encoding: chunked" in head.lower()
        for attempt in (0, 1):
            conn = await self._acquire(host, port, tls, fresh=attempt == 1)
            try:
                await self._send(conn, head, body, chunked)
                return await self._read_response(conn, method)
            except _StaleConnection:
                conn.close()
                if attempt or not isinstance(body, bytes) or method not in IDEMPOTENT_METHODS:
                    raise UpstreamConnectError(
                        "the upstream closed the connection without answering"
                    ) from None
            except BaseException:
                conn.close()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        """Close the idle connections of the running loop's pool."""
        pools = self._pools.pop(asyncio.get_running_loop(), {})
        for pool in pools.values():
            pool.close_idle()
        await asyncio.sleep(0)  # let the transports finish closing before the loop may end

    # -- connections ---------------------------------------------------------------------
    async def _acquire(self, host: str, port: int, tls: bool, *, fresh: bool) -> _Connection:
        loop = asyncio.get_running_loop()
        pools = self._pools.get(loop)
        if pools is None:
            pools = self._pools[loop] = {}
        key = (host, port, tls)
        pool = pools.get(key)
        if pool is None:
            pool = pools[key] = HostPool(
                key,
                max_connections=self.max_connections_per_host,
                max_idle=self.max_idle_per_host,
                keepalive_expiry=self.keepalive_expiry,
                clock=self._clock,
            )

        if not fresh:
            conn = pool.take_idle()
            if conn is not None:
                return conn
        opener = functools.partial(self._connect, host, port, tls)
        return await pool.open(opener, timeout=self.connect_timeout)

    async def _connect(
        self, host: str, port: int, tls: bool
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        context = (self.ssl_context or _tls_context()) if tls else None
        check = self.connect_check
        try:
            async with asyncio.timeout(self.connect_timeout):
                if check is None:
                    return await asyncio.open_connection(host, port, limit=_MAX_HEAD, ssl=context)
                return await check.connect(host, port, limit=_MAX_HEAD, ssl_context=context)
        except TimeoutError:
            raise UpstreamTimeoutError("connecting to the upstream timed out") from None
        except OSError as exc:
            raise UpstreamConnectError("could not connect to the upstream") from exc
        except ValueError as exc:
            # A host name the resolver cannot even encode (a label over 63 characters,
            # ``a..b``: UnicodeError from the idna codec; a NUL: ValueError): the upstream
            # cannot be reached, a 502 and a health failure like a refused connection.
            raise UpstreamConnectError("could not resolve the upstream's host name") from exc

    def _release(self, conn: _Connection) -> None:
        conn.pool.release(conn)

    # -- request -------------------------------------------------------------------------
    async def _send(
        self, conn: _Connection, head: bytes, body: bytes | AsyncIterator[bytes], chunked: bool
    ) -> None:
        writer = conn.writer
        try:
            if isinstance(body, bytes):
                writer.write(head + body if len(body) < READ_CHUNK_SIZE else head)
                if len(body) >= READ_CHUNK_SIZE:
                    writer.write(body)
            else:
                writer.write(head)
                async for chunk in body:
                    if not chunk:
                        continue
                    if chunked:
                        writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                    else:
                        writer.write(chunk)
                    await writer.drain()
                if chunked:
                    writer.write(b"0\r\n\r\n")
            if writer.transport.get_write_buffer_size() > READ_CHUNK_SIZE:
                async with asyncio.timeout(self.read_timeout):
                    await writer.drain()
        except TimeoutError:
            raise UpstreamTimeoutError("sending to the upstream timed out") from None
        except OSError as exc:
            if conn.reused:
                raise _StaleConnection from exc
            raise UpstreamConnectError("the upstream connection failed") from exc

    # -- response ------------------------------------------------------------------------
    async def _read_response(self, conn: _Connection, method: bytes) -> UpstreamResponse:
        reader = conn.reader
        try:
            async with asyncio.timeout(self.read_timeout):
                raw = await reader.readuntil(b"\r\n\r\n")
                # Interim answers (100 Continue, 103 Early Hints) precede the real one.
                while raw[9:10] == b"1" and raw[9:12] != b"101":
                    raw = await reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            raise UpstreamTimeoutError("the upstream did not answer in time") from None
        except asyncio.IncompleteReadError as exc:
            if conn.reused and not exc.partial:
                raise _StaleConnection from exc
            raise UpstreamConnectError("the upstream closed the connection") from exc
        except asyncio.LimitOverrunError as exc:
            raise UpstreamProtocolError("the upstream response head is too large") from exc
        except OSError as exc:
            if conn.reused:
                raise _StaleConnection from exc
            raise UpstreamConnectError("the upstream connection failed") from exc
        head = parse_response_head(raw)
        status, headers, length = head.status, head.headers, head.length
        chunked, keep_alive = head.chunked, head.keep_alive
        if method == b"HEAD" or status in _NO_BODY_STATUS or 100 <= status < 200:
            self._finish(conn, keep_alive)
            return UpstreamResponse(status, headers)
        if not chunked and length is not None and length <= INLINE_BODY_LIMIT:
            try:
                async with asyncio.timeout(self.read_timeout):
                    body = await reader.readexactly(length) if length else b""
            except TimeoutError:
                raise UpstreamTimeoutError("the upstream body did not arrive in time") from None
            except (asyncio.IncompleteReadError, OSError) as exc:
                raise UpstreamConnectError("the upstream closed the connection") from exc
            self._finish(conn, keep_alive)
            return UpstreamResponse(status, headers, body)
        stream = ResponseStream(
            conn,
            length=length,
            chunked=chunked,
            keep_alive=keep_alive,
            timeout=self.read_timeout,
            read_size=self.read_chunk_size,
        )
        return UpstreamResponse(status, headers, stream=stream)

    def _finish(self, conn: _Connection, keep_alive: bool) -> None:
        if keep_alive and not unread(conn):
            self._release(conn)
        else:
            conn.close()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def upstream_tls_context(ca_file: str) -> ssl.SSLContext:
    """A context that verifies ``https`` upstreams against the PEM CA bundle ``ca_file``
    (instead of the system store). Raises ``OSError``/``ssl.SSLError`` for a bad file."""
    return ssl.create_default_context(cafile=ca_file)


class _StaleConnection(Exception):
    """A pooled connection that the upstream had closed: the request may have been read, or
    not; only an idempotent one is sent again (see :meth:`UpstreamClient.request`)."""


def encode_head(method: str, target: str, headers: list[tuple[bytes, bytes]]) -> bytes:
    """Encode a request line and headers, ending with the blank line.

    Raises :class:`InvalidRequestHeadError` rather than write a head that is not valid
    HTTP/1.1 (a CR/LF in a header would smuggle more headers or a second request).
    """
    try:
        line = f"{method} {target} HTTP/1.1\r\n".encode("latin-1")
    except UnicodeEncodeError:
        raise InvalidRequestHeadError(
            "the request cannot be forwarded: its method or target is not latin-1 text; "
            "percent-encode the target"
        ) from None
    parts: list[Any] = [line]
    for name, value in headers:
        parts.append(name + b": " + value + b"\r\n")
    parts.append(b"\r\n")
    return check_request_head(b"".join(parts), headers)
