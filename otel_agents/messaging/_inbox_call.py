"""One POST to an agent's inbox, bounded in total time and in the size of its answer.

An inbox is network input to the hub like any other: its endpoint was given by whoever
registered the agent. httpx's ``timeout`` bounds each network operation, not the request,
so an inbox that answers ``202`` and then sends its body one byte every few tenths of a
second holds a delivery for as long as it likes; and ``response.content`` reads a body of
any size into memory. So here:

* the whole call (connect, send, the answer's headers and body) runs under one deadline,
  the transport's ``timeout`` (``asyncio.timeout``; the blocking variant checks it between
  the chunks it reads, so it may overrun by one read of httpx's own per-read timeout);
* the answer is streamed and refused past ``limit`` bytes (a declared ``Content-Length``
  over it before a byte is read). An inbox answers a few dozen bytes of JSON, a batch a
  ``refused`` list; the caller sizes ``limit`` for that;
* the answer is asked for and read uncompressed (``accept-encoding: identity``, raw bytes),
  so a small compressed body cannot expand past the limit.

Each bound failing is a :class:`DeliveryError`: ``recipient_timeout`` past the deadline,
``answer_too_large`` past the size limit, ``recipient_unreachable`` for an HTTP error.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from otel_agents._bounded_read import IDENTITY, TooLarge, aread_capped, read_capped
from otel_agents.messaging._errors import DeliveryError
from otel_agents.messaging._registry import AgentInfo

if TYPE_CHECKING:
    import httpx

__all__ = ["ANSWER_PER_MESSAGE", "MAX_ANSWER", "Answer", "post", "post_async", "unreachable"]

#: The most bytes of an inbox's answer to one envelope the hub reads (it is a few dozen).
MAX_ANSWER = 4096
#: More bytes allowed per envelope of a batch, for its entry in the ``refused`` list.
ANSWER_PER_MESSAGE = 1024


@dataclass(frozen=True, slots=True)
class Answer:
    """An inbox's answer, read whole within the bounds."""

    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


async def post_async(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    recipient: AgentInfo,
    *,
    timeout: float,
    limit: int,
) -> Answer:
    """POST ``body`` to ``url`` within ``timeout`` seconds in all; read at most ``limit``."""
    import httpx

    try:
        async with asyncio.timeout(timeout):
            async with client.stream(
                "POST", url, content=body, headers={**headers, **IDENTITY}
            ) as response:
                return Answer(response.status_code, await aread_capped(response, limit))
    except TooLarge as exc:
        raise _too_large(recipient, limit) from exc
    except TimeoutError as exc:
        raise _timed_out(recipient, timeout) from exc
    except httpx.HTTPError as exc:
        raise unreachable(recipient, exc) from exc


def post(
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: dict[str, str],
    recipient: AgentInfo,
    *,
    timeout: float,
    limit: int,
) -> Answer:
    """The blocking :func:`post_async`: the deadline is checked as each chunk arrives."""
    import httpx

    deadline = time.monotonic() + timeout
    try:
        with client.stream("POST", url, content=body, headers={**headers, **IDENTITY}) as response:
            return Answer(response.status_code, read_capped(response, limit, deadline))
    except TooLarge as exc:
        raise _too_large(recipient, limit) from exc
    except TimeoutError as exc:
        raise _timed_out(recipient, timeout) from exc
    except httpx.HTTPError as exc:
        raise unreachable(recipient, exc) from exc


def unreachable(recipient: AgentInfo, exc: Exception) -> DeliveryError:
    return DeliveryError(
        f"agent {recipient.agent_id!r} at {recipient.endpoint} is unreachable "
        f"({type(exc).__name__}): check that its inbox server is running",
        reason="recipient_unreachable",
    )


def _too_large(recipient: AgentInfo, limit: int) -> DeliveryError:
    return DeliveryError(
        f"agent {recipient.agent_id!r} at {recipient.endpoint} answered with more than "
        f"{limit} bytes; an inbox answers a few dozen: check that the endpoint is its inbox",
        reason="answer_too_large",
    )


def _timed_out(recipient: AgentInfo, timeout: float) -> DeliveryError:
    return DeliveryError(
        f"agent {recipient.agent_id!r} at {recipient.endpoint} did not answer in full within "
        f"timeout={timeout:g} s: check that its inbox server is responsive",
        reason="recipient_timeout",
    )
