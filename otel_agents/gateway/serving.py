"""Serving the gateway with uvicorn: bounded time for request heads and idle connections.

uvicorn closes a keep-alive connection that stays idle ``timeout_keep_alive`` seconds after
a response, but arms nothing before the first request, and cancels that timer on the first
byte of the next one: a client that opens a connection and says nothing, or sends a request
head a byte at a time, holds it for ever (slowloris). :class:`HeadTimeoutProtocol` adds the
missing bound: a connection must deliver a complete request head within ``header_timeout``
seconds of being opened, or of the first byte after a response, or it is closed. The
request body has its own bound between pieces, enforced by the pipeline
(``body_timeout``, answered ``408``).

Use :func:`uvicorn_options` wherever the gateway is served::

    uvicorn.run(gateway.app, host=..., port=..., **uvicorn_options(gateway.config))
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from otel_agents.gateway.config import GatewayConfig

__all__ = ["HeadTimeoutProtocol", "uvicorn_options"]


class HeadTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each request head.

    Subclass it with another ``header_timeout`` (as :func:`uvicorn_options` does).
    """

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._open_requests = 0  # heads complete whose response is not

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

    def on_headers_complete(self) -> None:
        self._disarm()
        self._open_requests += 1
        super().on_headers_complete()

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
        "GatewayHttpProtocol", (HeadTimeoutProtocol,), {"header_timeout": config.header_timeout}
    )
    return {
        "http": protocol,
        "timeout_keep_alive": config.idle_timeout,
        "access_log": False,  # the gateway keeps its own, redacted, history
        "proxy_headers": False,  # X-Forwarded-* is handled by the gateway's trusted_proxies
        "server_header": False,
    }
