"""Reading request bodies from ASGI ``receive``: whole, bounded in size and in time.

A request body is read completely before any upstream is contacted, for three reasons:

* a client that went away mid-body (or a request the server rejected, such as
  ``Transfer-Encoding: xchunked``, which arrives as ``http.disconnect``) is never forwarded:
  the upstream would take a truncated body for a complete one;
* a slow upload (a slowloris sending 100 B/s) holds one client connection, never one of
  the few upstream connections (``max_connections_per_upstream``);
* the ``413`` for ``max_body_size`` comes before the upstream is contacted.

Memory per request is bounded by ``max_body_size``; time between two pieces of the body by
``body_timeout`` (answered ``408``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from otel_agents._errors import GatewayError
from otel_agents.gateway._http1 import length_items

__all__ = [
    "BodyFraming",
    "BodyIncomplete",
    "BodyTimeout",
    "BodyTooLarge",
    "read_all",
    "read_request_body",
]

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
RawHeaders = list[tuple[bytes, bytes]]


class BodyTooLarge(GatewayError):
    """The body passed the limit; the gateway answers 413 without contacting the upstream."""


class BodyFraming(GatewayError):
    """The request's framing is ambiguous (``Content-Length`` with ``Transfer-Encoding``, or
    two different lengths) or its body is not the length it declared; the gateway answers
    400 and forwards nothing, since an upstream could frame the same bytes otherwise
    (request smuggling)."""


class BodyIncomplete(GatewayError):
    """The client disconnected (or the server gave up on the request) before the body
    ended; nothing is forwarded."""


class BodyTimeout(GatewayError):
    """No piece of the body arrived within ``body_timeout``; the gateway answers 408."""


async def read_all(receive: Receive, limit: int, timeout: float) -> bytes:
    """The whole body, at most ``limit`` bytes, each piece within ``timeout`` seconds.

    Raises :class:`BodyTooLarge`, :class:`BodyIncomplete` or :class:`BodyTimeout`.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            async with asyncio.timeout(timeout):
                message = await receive()
        except TimeoutError:
            raise BodyTimeout(f"no request body data within body_timeout={timeout} s") from None
        if message["type"] != "http.request":
            raise BodyIncomplete("the client disconnected before the request body ended")
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_request_body(
    receive: Receive, headers: RawHeaders, limit: int, timeout: float
) -> tuple[bytes, int | None]:
    """The whole body of a request that declares one and the length to declare upstream:
    the length of the bytes read, never a number the client sent (a declared length that
    the body does not match, or framing an upstream could read otherwise, is refused).

    Raises :class:`ValueError` for a Content-Length that is not ``1*DIGIT``, and what
    :func:`read_all` raises.
    """
    lengths: set[bytes] = set()
    for name, value in headers:
        if name == b"content-length":
            items = length_items(value)
            if items is None:
                raise ValueError("Content-Length is not 1*DIGIT")
            lengths.update(items)
    chunked = any(n == b"transfer-encoding" for n, _ in headers)
    if lengths:
        if chunked or len(lengths) > 1:
            raise BodyFraming
        (declared,) = lengths
        length = int(declared)
        if length > limit:
            raise BodyTooLarge
        body = await read_all(receive, limit, timeout)
        if len(body) != length:
            raise BodyFraming
        return body, length
    body = await read_all(receive, limit, timeout)  # chunked
    return body, len(body)
