"""A RemoteAgent's calls to its hub are bounded in total time and in the size of the answer
read: a hub (or whatever answers at its URL) that trickles or floods its answer costs one
call a DeliveryError, not the agent's sends, heartbeats and reports behind it.

The "hubs" are raw asyncio servers on 127.0.0.1 (port 0) that answer 202 headers and then
misbehave on the wire, which no ASGI app can.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from otel_agents._errors import InvalidTypeError, InvalidValueError
from otel_agents.messaging import DeliveryError
from otel_agents.messaging._hub_call import MAX_HUB_ANSWER
from otel_agents.messaging._remote import RemoteAgent

pytestmark = pytest.mark.integration  # servers on 127.0.0.1

#: A bound on each test, far above what the bounded calls need (they fail within 0.5 s).
GUARD = 30.0
HEAD = b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\n"

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """202, a body of 1000 bytes promised, then one byte every 0.2 s (at most 150)."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(HEAD + b"content-length: 1000\r\n\r\n")
    try:
        for _ in range(150):
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(0.2)
    except (ConnectionError, OSError):
        pass  # the agent gave up: what the test wants
    finally:
        writer.close()


async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """202 with a chunked body (no Content-Length to refuse up front) past the cap."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(HEAD + b"transfer-encoding: chunked\r\n\r\n")
    chunk = b" " * 65536
    try:
        for _ in range(MAX_HUB_ANSWER // len(chunk) + 16):
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


@asynccontextmanager
async def hub_agent(handler: Handler) -> AsyncIterator[RemoteAgent]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    agent = RemoteAgent("a", "A", [], "http://127.0.0.1:9", f"http://127.0.0.1:{port}", timeout=0.5)
    try:
        yield agent
    finally:
        await agent.aclose()
        server.close()
        await server.wait_closed()


def test_a_hub_that_trickles_its_answer_fails_the_send_at_the_deadline() -> None:
    async def scenario() -> None:
        async with hub_agent(trickle) as agent:
            with pytest.raises(DeliveryError, match=r"within timeout=0\.5 s") as caught:
                await asyncio.wait_for(agent.send_message("b", "request", {}), GUARD)
            assert caught.value.reason == "hub_timeout"
            assert "POST /messages" in str(caught.value)
            # The outbox is free again: the next send is tried (and bounded) too.
            with pytest.raises(DeliveryError):
                await asyncio.wait_for(agent.send_message("b", "request", {}), GUARD)
            with pytest.raises(DeliveryError) as beat:
                await asyncio.wait_for(agent.heartbeat(), GUARD)
            assert beat.value.reason == "hub_timeout"

    asyncio.run(scenario())


def test_a_hub_answer_past_the_cap_is_refused_unread() -> None:
    async def scenario() -> None:
        async with hub_agent(flood) as agent:
            with pytest.raises(DeliveryError, match="more than") as caught:
                await asyncio.wait_for(agent.get_agent("b"), GUARD)
            assert caught.value.reason == "answer_too_large"

    asyncio.run(scenario())


@pytest.mark.parametrize("timeout", [0, -1.0, float("nan"), float("inf"), "10", True])
def test_the_hub_call_timeout_must_be_a_positive_number(timeout: object) -> None:
    with pytest.raises((InvalidValueError, InvalidTypeError), match="timeout="):
        RemoteAgent("a", "A", [], "http://127.0.0.1:9", "http://127.0.0.1:1", timeout=timeout)  # type: ignore[arg-type]
