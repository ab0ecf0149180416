"""The hub's pending deliveries are bounded, per recipient and in all.

The hub keeps each message an inbox accepted, payload included, until its recipient reports
the outcome. An agent that registers as reporting outcomes, accepts with 202 and never
reports used to make the hub keep every message sent to it, without limit, for
``max_delivery_attempts`` x ``ack_timeout``. Past ``max_pending_per_agent`` (for one
recipient) or ``max_pending_deliveries`` (in all) the hub now refuses new messages for
reporting agents with 503 ``queue_full``; a report frees a place.

Real uvicorn servers on 127.0.0.1: the hub and two inboxes whose agents queue what they
receive and report only when the test processes a message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import _http
import pytest
from _servers import ThreadServer

from otel_agents.messaging import QueueFullError
from otel_agents.messaging._remote import RemoteAgent
from tests.messaging.servers import AUTH, security, start_hub, start_inbox

pytestmark = pytest.mark.integration  # a hub and inboxes on 127.0.0.1

LIMITS = {"max_pending_per_agent": 3, "max_pending_deliveries": 5, "ack_timeout": 600}


@pytest.fixture
def hub() -> Iterator[ThreadServer]:
    server = start_hub(LIMITS)
    try:
        yield server
    finally:
        server.stop()


def pending(hub: ThreadServer) -> int:
    found: int = _http.get(f"{hub.url}/dead-letters", headers=AUTH, timeout=10).json()["pending"]
    return found


def test_past_the_per_agent_and_overall_limits_new_messages_are_refused_queue_full(
    hub: ThreadServer,
) -> None:
    """3 unreported messages to one agent: its 4th is refused, naming max_pending_per_agent;
    5 in all: the next for another agent is refused, naming max_pending_deliveries; once the
    agent reports one, a message for it is taken again. Nothing queued past a limit."""
    silent, silent_server = start_inbox("silent", hub.url)
    other, other_server = start_inbox("other", hub.url)
    sender = RemoteAgent("sender", "sender", [], "http://127.0.0.1:1", hub.url, security=security())

    async def scenario() -> None:
        try:
            await steps()
        finally:
            for agent in (silent, other, sender):
                await agent.aclose()

    async def steps() -> None:
        for agent in (silent, other, sender):
            await agent.register()
        for _ in range(3):
            await sender.send_message("silent", "request", {})
        with pytest.raises(QueueFullError, match="max_pending_per_agent=3"):
            await sender.send_message("silent", "request", {})
        assert len(silent.queue) == 3
        for _ in range(2):
            await sender.send_message("other", "request", {})
        with pytest.raises(QueueFullError, match="max_pending_deliveries=5"):
            await sender.send_message("other", "request", {})
        assert len(other.queue) == 2
        assert pending(hub) == 5

        await silent.process_next()  # processed and reported: the hub forgets it
        await silent._reports.aclose(timeout=30)
        assert pending(hub) == 4
        await sender.send_message("silent", "request", {})
        assert len(silent.queue) == 3

    try:
        asyncio.run(scenario())
    finally:
        silent_server.stop()
        other_server.stop()


def test_a_batch_past_the_per_agent_limit_is_refused_message_by_message(
    hub: ThreadServer,
) -> None:
    """One request of 5 messages for an agent with room for 3: the last 2 are refused
    queue_full (the request counts its own messages), the first 3 are delivered."""
    silent, silent_server = start_inbox("silent", hub.url)
    sender = RemoteAgent("sender", "sender", [], "http://127.0.0.1:1", hub.url, security=security())

    async def scenario() -> list[BaseException | None]:
        try:
            return await steps()
        finally:
            for agent in (silent, sender):
                await agent.aclose()

    async def steps() -> list[BaseException | None]:
        for agent in (silent, sender):
            await agent.register()
        messages = [
            sender.envelope("sender", "silent", "request", {"i": i}, "normal")[0] for i in range(5)
        ]
        outcomes: dict[str, BaseException | None] = {}
        async for chunk in sender._post(messages):
            outcomes.update(chunk)
        return [outcomes[m.message_id] for m in messages]

    try:
        outcomes = asyncio.run(scenario())
        assert outcomes[:3] == [None, None, None]
        assert all(isinstance(e, QueueFullError) for e in outcomes[3:]), outcomes
        assert len(silent.queue) == 3
        assert pending(hub) == 3
    finally:
        silent_server.stop()
