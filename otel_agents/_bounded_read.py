"""Reading what may be too large: an HTTP answer, or a file someone named.

A file (a price table, a gateway config) is read through :func:`read_file_capped`: at most
``limit`` bytes, and never more than one byte past it in memory, whatever the path points at
(a log, a disk image, ``/dev/zero``).

An HTTP answer that came from the network: raw bytes, a size limit, a deadline.

httpx bounds each network operation, not a whole answer, and ``response.content`` reads a
body of any size; a compressed body may expand far past what arrived. The hub's calls to
agents' inboxes and the gateway's hub discovery read their answers through here instead:
asked for uncompressed (:data:`IDENTITY`), streamed raw, refused past ``limit`` bytes (a
declared ``Content-Length`` over it before a byte is read) and, for the blocking form, past
a deadline checked as each piece arrives (the async form runs under ``asyncio.timeout``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from otel_agents._errors import OtelAgentsError

if TYPE_CHECKING:
    import httpx

__all__ = ["IDENTITY", "TooLarge", "aread_capped", "read_capped", "read_file_capped"]

#: Request headers that ask for the answer as it is, so the limit counts what is kept.
IDENTITY = {"accept-encoding": "identity"}
#: Longer lengths are too large whatever the limit (``int()`` of thousands of digits raises).
_MAX_LENGTH_DIGITS = 18


class TooLarge(OtelAgentsError, ValueError):
    """The answer (or file) is longer than the limit (declared so, or as it arrived)."""


def read_file_capped(path: Path, limit: int) -> bytes:
    """The bytes of the file at ``path``: at most ``limit`` of them, else :class:`TooLarge`.

    Raises:
        OSError: the file cannot be opened or read.
        TooLarge: it holds more than ``limit`` bytes (only ``limit + 1`` are read).
    """
    with path.open("rb") as handle:
        content = handle.read(limit + 1)
    if len(content) > limit:
        raise TooLarge(f"{path} is larger than {limit} bytes")
    return content


def _check_declared(response: httpx.Response, limit: int) -> None:
    declared = response.headers.get("content-length", "")
    digits = declared.isascii() and declared.isdigit()
    if digits and (len(declared) > _MAX_LENGTH_DIGITS or int(declared) > limit):
        raise TooLarge(f"the answer declares more than {limit} bytes")


def read_capped(response: httpx.Response, limit: int, deadline: float) -> bytes:
    """The body of a streamed ``response``: at most ``limit`` bytes (else :class:`TooLarge`),
    all of it by ``deadline`` (``time.monotonic()``; else ``TimeoutError``)."""
    _check_declared(response, limit)
    content = bytearray()
    for chunk in response.iter_raw():
        content += chunk
        if len(content) > limit:
            raise TooLarge(f"the answer is longer than {limit} bytes")
        if time.monotonic() > deadline:
            raise TimeoutError("the answer did not end in time")
    if time.monotonic() > deadline:
        raise TimeoutError("the answer did not end in time")
    return bytes(content)


async def aread_capped(response: httpx.Response, limit: int) -> bytes:
    """:func:`read_capped` for an async ``response`` (the caller bounds the time)."""
    _check_declared(response, limit)
    content = bytearray()
    async for chunk in response.aiter_raw():
        content += chunk
        if len(content) > limit:
            raise TooLarge(f"the answer is longer than {limit} bytes")
    return bytes(content)
