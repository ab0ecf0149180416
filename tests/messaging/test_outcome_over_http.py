"""Over HTTP the hub learns a message's outcome from the recipient's inbox (POST /acks)."""

from __future__ import annotations

import asyncio

import _http
import pytest

from otel_agents.messaging import AgentMessage
from tests.messaging.servers import AUTH, start_hub, start_inbox

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("fails", "expected"), [(False, "processed"), (True, "failed")])
def test_the_hub_learns_processed_and_failed(fails: bool, expected: str) -> None:
    hub = start_hub()
    sender, sender_server = start_inbox("agent-a", hub.url)
    recipient, recipient_server = start_inbox("agent-b", hub.url)

    def handler(message: AgentMessage) -> None:
        if fails:
            raise ValueError("handler bug")

    recipient.on()(handler)

    async def main() -> str:
        try:
            await sender.register()
            await recipient.register()
            message_id = await sender.send_message("agent-b", "request", {"n": 1})
            await asyncio.wait_for(recipient.process_next(), timeout=10)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10  # a hang guard, not a speed target
            async with _http.AsyncClient(base_url=hub.url, headers=AUTH) as client:
                while True:
                    found = (await client.get(f"/messages/{message_id}")).json()["status"]
                    if found == expected or loop.time() > deadline:
                        return str(found)
                    await asyncio.sleep(0.02)
        finally:
            await sender.aclose()
            await recipient.aclose()

    try:
        assert asyncio.run(main()) == expected
    finally:
        sender_server.stop()
        recipient_server.stop()
        hub.stop()
