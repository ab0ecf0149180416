"""Serving the gateway with uvicorn: bounded time for request heads and idle connections.

uvicorn closes a keep-alive connection that stays idle ``timeout_keep_alive`` seconds after
a response, but arms nothing before the first request, and cancels that timer on the first
byte of the next one: a client that opens a connection and says nothing, or sends a request
head a byte at a time, holds it for ever (slowloris); nor does it limit the size of a head
(llhttp does not). :class:`BoundedHeadProtocol` adds both bounds: a connection must deliver
a complete request head within ``header_timeout`` seconds of being opened, or of the first
byte after a response, or it is closed; a head (target and fields) larger than
:data:`MAX_HEAD_SIZE` is answered ``400`` and the connection closed. The
request body has its own bound between pieces, enforced by the pipeline
(``body_timeout``, answered ``408``). A response the gateway gives up on (a streamed answer
whose client stalled, or whose upstream broke off: see ``_relay``) is aborted through the
:data:`~otel_agents.gateway._relay.ABORT_RESPONSE` scope extension: the connection is
dropped at once, without uvicorn's error line.

Use :func:`uvicorn_options` wherever the gateway is served::

    uvicorn.run(gateway.app, host=..., port=..., **uvicorn_options(gateway.config))
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from otel_agents.gateway._config import GatewayConfig
from otel_agents.gateway._relay import ABORT_RESPONSE

__all__ = ["MAX_HEAD_SIZE", "BoundedHeadProtocol", "uvicorn_options"]

#: Bytes of request target plus header names and values accepted in one request head.
MAX_HEAD_SIZE = 64 * 1024


class _HeadTooLarge(Exception):
    """Raised from a parser callback: uvicorn answers 400 and closes the connection."""


class BoundedHeadProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each request head.

    Subclass it with another ``header_timeout`` (as :func:`uvicorn_options` does).
    """

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._open_requests = 0  # heads complete whose response is not
        self._head_size = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # Bytes while no request is open start (or belong to) a head: its clock runs from
        # the first of them. Body bytes of an open request are the pipeline's concern.
        if self._head_timer is None and self._open_requests == 0:
            self._arm()
        super().data_received(data)

    def on_message_begin(self) -> None:
        self._head_size = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value))
        super().on_header(name, value)

    def _count(self, size: int) -> None:
        self._head_size += size
        if self._head_size > MAX_HEAD_SIZE:
            raise _HeadTooLarge  # httptools turns it into HttpParserError: uvicorn's 400

    def on_headers_complete(self) -> None:
        self._disarm()
        self._open_requests += 1
        super().on_headers_complete()
        cycle, transport = self.cycle, self.transport

        def abort() -> None:
            # A response the gateway cannot finish (see ``_relay``): uvicorn would log an
            # error line for it, and close() would wait for a client that reads nothing
            # to take the buffered bytes first (for ever); this drops the connection now.
            cycle.disconnected = True  # no more writes, and nothing to log
            transport.abort()

        extensions = self.scope.setdefault("extensions", {})
        extensions[ABORT_RESPONSE] = {"abort": abort}

    def on_response_complete(self) -> None:
        self._open_requests = max(0, self._open_requests - 1)
        super().on_response_complete()

    def _arm(self) -> None:
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def uvicorn_options(config: GatewayConfig) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run``/``uvicorn.Config`` that apply the gateway's
    connection timeouts (``header_timeout``, ``idle_timeout``) and its other fixed choices."""
    protocol = type(
        "GatewayHttpProtocol", (BoundedHeadProtocol,), {"header_timeout": config.header_timeout}
    )
    return {
        "http": protocol,
        "timeout_keep_alive": config.idle_timeout,
        "access_log": False,  # the gateway keeps its own, redacted, history
        "proxy_headers": False,  # X-Forwarded-* is handled by the gateway's trusted_proxies
        "server_header": False,
    }
