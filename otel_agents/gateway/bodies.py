"""Reading request bodies from ASGI ``receive``: whole (bounded) or as a stream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from otel_agents.errors import GatewayError

__all__ = ["BodyTooLarge", "read_all", "stream_body"]

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class BodyTooLarge(GatewayError):
    """The body passed the limit; the gateway answers 413 without contacting the upstream."""


async def read_all(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def stream_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return
