"""An agent that restarts at a new address: its own token lets it move its registration;
without one the hub's 409 is final and the agent says so instead of retrying forever.

Real uvicorn servers on 127.0.0.1: a hub and the restarted agent's inbox. The first
process's endpoint (port 1) is dead, as after a restart at a new address.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from otel_agents.messaging import DuplicateAgentError, SecurityConfig
from otel_agents.messaging._remote import RemoteAgent
from tests.messaging.helpers import KEY
from tests.messaging.servers import security, start_hub, start_inbox

pytestmark = pytest.mark.integration  # a hub and an inbox on 127.0.0.1

#: Generous bound on every wait (a loaded machine), never a speed assertion.
DEADLINE = 30.0
DEAD = "http://127.0.0.1:1"


def test_an_agent_proven_by_its_own_token_moves_its_endpoint_and_gets_its_messages() -> None:
    """Registered at a dead address, the agent registers again (its own token) at its new
    inbox: 201, the hub's entry points there, and a message for it arrives there."""
    tokens = SecurityConfig(
        agent_tokens={"a": "token-of-agent-a-0123", "s": "token-of-agent-s-0123"},
        signing_key=KEY,
    )
    hub = start_hub(security=tokens)
    moved, inbox = start_inbox("a", hub.url, security=tokens)

    async def scenario() -> None:
        before = RemoteAgent("a", "a", [], DEAD, hub.url, security=tokens)
        sender = RemoteAgent("s", "s", [], DEAD, hub.url, security=tokens)
        try:
            await before.register()
            await sender.register()
            registered = await moved.register()
            assert registered["endpoint"] == moved.endpoint
            assert (await sender.get_agent("a"))["endpoint"] == moved.endpoint
            await sender.send_message("a", "request", {"after": "restart"})
            assert len(moved.queue) == 1
        finally:
            for agent in (before, sender, moved):
                await agent.aclose()

    try:
        asyncio.run(scenario())
    finally:
        inbox.stop()
        hub.stop()


def test_without_its_own_token_the_agent_stops_retrying_on_409_and_logs_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With the shared secret only (it proves no identity) the id stays where it was; run()
    raises DuplicateAgentError at once instead of retrying every second, after an error
    log naming the fix; the hub's entry is unchanged."""
    hub = start_hub()
    moved, inbox = start_inbox("a", hub.url)

    async def scenario() -> None:
        before = RemoteAgent("a", "a", [], DEAD, hub.url, security=security())
        try:
            await before.register()
            with pytest.raises(DuplicateAgentError, match="already registered"):
                await asyncio.wait_for(moved.run(asyncio.Event()), DEADLINE)
            assert (await before.get_agent("a"))["endpoint"] == DEAD
        finally:
            for agent in (before, moved):
                await agent.aclose()

    try:
        with caplog.at_level(logging.ERROR, logger="otel_agents.messaging"):
            asyncio.run(scenario())
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert any("will not help" in text and "agent_tokens" in text for text in errors)
    finally:
        inbox.stop()
        hub.stop()
