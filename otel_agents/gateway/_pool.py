"""Upstream connections, per (host, port, tls) and event loop: reuse and a limit.

At most ``max_connections`` connections to one upstream are open at once, idle pooled ones
included (as httpx's ``max_connections`` counts them), so a burst of clients cannot open a
socket each to a service behind the gateway. A request that finds the limit reached and no
idle connection waits, up to its timeout, for a connection to come back (it is handed over
directly) or to close (its slot is); then it gets :class:`UpstreamBusyError`, which the
gateway answers with a 503 of its own and never holds against the upstream's health.

An idle connection expires ``keepalive_expiry`` seconds after it came back (httpcore's
``keepalive_expiry``, Go's ``IdleConnTimeout``): upstreams close idle keep-alive connections
after their own timeout (uvicorn and Node.js 5 s, gunicorn 2 s), and a request that takes one
just then races that close. A ``GET`` lost that way is sent again, but a ``POST`` must not
be (RFC 9112 §9.3.1) and becomes a 502, so connections are dropped before the upstream is
likely to drop them. Expired ones are closed lazily, by the next take or release on their
pool (all of them at once: the idle list is in release order, so they are its head); until
then at most ``max_idle`` of them stay open per upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable

from otel_agents.gateway._errors import UpstreamBusyError

__all__ = ["DEFAULT_KEEPALIVE_EXPIRY", "Connection", "HostPool"]

Key = tuple[str, int, bool]
Opener = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
#: Seconds an idle pooled connection is kept by default: below uvicorn's and Node.js's 5 s.
DEFAULT_KEEPALIVE_EXPIRY = 4.0


class Connection:
    """One upstream connection; :meth:`close` gives its slot back to its pool once."""

    __slots__ = ("_closed", "idle_since", "key", "pool", "reader", "reused", "writer")

    def __init__(
        self,
        key: Key,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        pool: HostPool,
    ) -> None:
        self.key = key
        self.reader = reader
        self.writer = writer
        self.pool = pool
        self.reused = False
        #: When it last came back to the pool (the pool's monotonic clock).
        self.idle_since = 0.0
        self._closed = False

    @property
    def alive(self) -> bool:
        return not (self._closed or self.reader.at_eof() or self.writer.is_closing())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self.writer.close()
        self.pool.slot_freed()


class HostPool:
    """The connections of one upstream on one event loop."""

    def __init__(
        self,
        key: Key,
        *,
        max_connections: int,
        max_idle: int,
        keepalive_expiry: float = DEFAULT_KEEPALIVE_EXPIRY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.key = key
        self.max_connections = max_connections
        self.max_idle = max_idle
        self.keepalive_expiry = keepalive_expiry
        self._clock = clock
        self.idle: list[Connection] = []
        self.count = 0  # connections open or being opened, idle ones included
        self.closed = False
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()

    def take_idle(self) -> Connection | None:
        """The most recently released idle connection that is still open and not expired,
        if there is one; expired ones are closed on the way."""
        now = self._clock()
        self._close_expired(now)
        while self.idle:
            conn = self.idle.pop()
            # Checked again: a clock that went back breaks the release order of the list.
            if conn.alive and not self._expired(conn, now):
                conn.reused = True
                return conn
            conn.close()
        return None

    async def open(self, opener: Opener, *, timeout: float) -> Connection:
        """A new connection under the limit, or else the next one to come back (or the
        slot of the next one to close) within ``timeout`` seconds."""
        if self.count < self.max_connections:
            self.count += 1
            return await self._open(opener)
        waiter: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                handed = await waiter
        except BaseException as exc:
            self._give_back(waiter)
            if isinstance(exc, TimeoutError):
                raise UpstreamBusyError(
                    f"all {self.max_connections} connections to the upstream stayed busy"
                ) from None
            raise
        if handed is not None:
            handed.reused = True
            return handed
        return await self._open(opener)  # a closed connection's slot, already counted

    def release(self, conn: Connection) -> None:
        """Take back a connection whose response was read to the end."""
        if not conn.alive:
            conn.close()
            return
        waiter = self._next_waiter()
        if waiter is not None:
            waiter.set_result(conn)
            return
        now = self._clock()
        self._close_expired(now)
        if self.closed or len(self.idle) >= self.max_idle:
            conn.close()
        else:
            conn.idle_since = now
            self.idle.append(conn)

    def slot_freed(self) -> None:
        """A connection closed (or failed to open): its slot goes to a waiter, if any."""
        waiter = self._next_waiter()
        if waiter is not None:
            waiter.set_result(None)
        else:
            self.count -= 1

    def close_idle(self) -> None:
        """Close the idle connections; ones still in use close when they come back."""
        self.closed = True
        idle, self.idle = self.idle, []
        for conn in idle:
            conn.close()

    def _expired(self, conn: Connection, now: float) -> bool:
        return now - conn.idle_since > self.keepalive_expiry

    def _close_expired(self, now: float) -> None:
        """Close the expired idle connections: the oldest ones, at the head of the list."""
        stale = 0
        while stale < len(self.idle) and self._expired(self.idle[stale], now):
            stale += 1
        if stale:
            expired, self.idle[:stale] = self.idle[:stale], []
            for conn in expired:
                conn.close()

    async def _open(self, opener: Opener) -> Connection:
        try:
            reader, writer = await opener()
        except BaseException:
            self.slot_freed()
            raise
        return Connection(self.key, reader, writer, self)

    def _next_waiter(self) -> asyncio.Future[Connection | None] | None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                return waiter
        return None

    def _give_back(self, waiter: asyncio.Future[Connection | None]) -> None:
        """A waiter that gave up: pass on what it was handed just too late, if anything."""
        if not waiter.done():
            waiter.cancel()
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            return
        if waiter.cancelled():
            return
        handed = waiter.result()
        if handed is None:
            self.slot_freed()
        else:
            self.release(handed)
