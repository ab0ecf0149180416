"""An inbox that refuses a message because its queue is full does not remember it: the next
delivery of that message is queued and handled once (it used to be taken for a duplicate,
answered 202 and dropped: never processed, never reported, dead-lettered by the hub).

Real uvicorn servers on 127.0.0.1: the inboxes, and the hub (or a stub of its ``/acks``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import _http
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from otel_agents.messaging import AgentMessage
from otel_agents.messaging._inbox import create_inbox_app
from otel_agents.messaging._message import new_message
from otel_agents.messaging._remote import RemoteAgent
from tests.messaging.servers import AUTH, ThreadServer, security, start_hub

pytestmark = pytest.mark.integration  # inboxes and a hub on 127.0.0.1

#: Generous bound on every wait (a loaded machine), never a speed assertion.
DEADLINE = 30.0


class Inbox:
    """Agent ``agent_id``'s inbox on a real server, noting the status of every response;
    the test drives its processing. :meth:`restart` stands for a new process of the agent
    on the same endpoint (the old one dies with what it had queued)."""

    def __init__(self, agent_id: str, hub_url: str, max_queue_size: int) -> None:
        self.agent_id, self.hub_url, self.max_queue_size = agent_id, hub_url, max_queue_size
        self.statuses: list[int] = []
        self.server = ThreadServer(
            self._app, lifespan="off", interface="asgi3"
        )  # the test closes the agents
        self.restart()
        self.server.start()

    def restart(self) -> None:
        self.agent = RemoteAgent(
            self.agent_id,
            self.agent_id,
            ["work"],
            self.server.url,
            self.hub_url,
            security=security(),
            config={"max_queue_size": self.max_queue_size},
        )
        self.handled: list[str] = []

        @self.agent.on()
        async def handle(message: AgentMessage) -> None:
            self.handled.append(message.message_id)

        self.inbox = create_inbox_app(self.agent, run_agent=False)

    async def _app(self, scope: Any, receive: Any, send: Any) -> None:
        async def noting(event: Any) -> None:
            if event["type"] == "http.response.start":
                self.statuses.append(event["status"])
            await send(event)

        await self.inbox(scope, receive, noting)

    async def process(self) -> str:
        """Process the next message (failing the test if none comes); return its id."""
        message = await asyncio.wait_for(self.agent.process_next(), timeout=DEADLINE)
        return message.message_id

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def inboxes() -> Iterator[Callable[..., Inbox]]:
    made: list[Inbox] = []

    def make(agent_id: str, hub_url: str, max_queue_size: int = 1) -> Inbox:
        made.append(Inbox(agent_id, hub_url, max_queue_size))
        return made[-1]

    try:
        yield make
    finally:
        for inbox in made:
            inbox.stop()


def envelope(sender: str, recipient: str, n: int) -> AgentMessage:
    message, _ = new_message(
        sender, recipient, "request", {"n": n}, "normal", now=time.time(), timeout=600
    )
    return message


async def deliver(url: str, message: AgentMessage) -> httpx.Response:
    """Deliver ``message`` to the inbox at ``url`` as the hub does (signed)."""
    body = message.to_json().encode()
    headers = {
        **AUTH,
        "content-type": "application/json",
        **security().sign(message.message_id, body),
    }
    async with _http.AsyncClient(timeout=10) as client:
        return await client.post(url + "/inbox", content=body, headers=headers)


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def test_a_message_refused_as_queue_full_is_queued_when_delivered_again(
    inboxes: Callable[..., Inbox],
) -> None:
    """503 queue_full; once there is room the same id is queued, handled once and reported
    (a third copy is a duplicate: reported again, not handled again)."""
    reports: list[dict[str, Any]] = []

    async def acks(request: Request) -> Response:
        reports.extend(await request.json())
        return JSONResponse({"acknowledged": 0})

    hub = ThreadServer(Starlette(routes=[Route("/acks", acks, methods=["POST"])])).start()
    try:
        inbox = inboxes("b", hub.url)
        first, second = envelope("a", "b", 1), envelope("a", "b", 2)

        async def scenario() -> None:
            assert (await deliver(inbox.server.url, first)).status_code == 202
            refused = await deliver(inbox.server.url, second)
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"] == "queue_full"
            assert await inbox.process() == first.message_id  # room again
            assert (await deliver(inbox.server.url, second)).status_code == 202
            assert len(inbox.agent.queue) == 1
            assert await inbox.process() == second.message_id
            assert (await deliver(inbox.server.url, second)).status_code == 202
            assert len(inbox.agent.queue) == 0

            async def reported() -> bool:
                ids = [r["message_id"] for r in reports if r["status"] == "processed"]
                return ids.count(second.message_id) == 2

            try:
                await until(reported, "the two reports of the second message")
            finally:
                await inbox.agent.aclose()

        asyncio.run(scenario())
        assert inbox.handled == [first.message_id, second.message_id]
    finally:
        hub.stop()


def test_the_hubs_redelivery_refused_as_queue_full_is_processed_once_later(
    inboxes: Callable[..., Inbox],
) -> None:
    """A message lost with its agent's process is redelivered by the hub to the agent's new
    process, whose queue is full (503); the next redelivery is queued, processed once and
    the hub learns it: no dead letter."""
    hub = start_hub({"ack_timeout": 2, "retry_backoff": 1, "max_delivery_attempts": 10})
    try:

        async def status(message_id: str) -> dict[str, Any]:
            async with _http.AsyncClient(base_url=hub.url, headers=AUTH, timeout=10) as client:
                found: dict[str, Any] = (await client.get(f"/messages/{message_id}")).json()
                letters = (await client.get("/dead-letters")).json()
            found["dead_letters"] = letters["dead_letters"]
            return found

        async def scenario() -> None:
            sender = RemoteAgent("a", "a", [], "http://127.0.0.1:1", hub.url, security=security())
            inbox = inboxes("b", hub.url)
            first = inbox.agent
            try:
                await sender.register()
                await first.register()
                lost = await sender.send_message("b", "request", {"n": 1})
                assert len(first.queue) == 1
            finally:
                await first.aclose()
            inbox.restart()  # the process died with the message in its queue
            try:
                filler = envelope("a", "b", 2)
                assert (await deliver(inbox.server.url, filler)).status_code == 202  # full
                await inbox.agent.register()

                async def refused() -> bool:
                    return 503 in inbox.statuses

                await until(refused, "the hub's redelivery to be refused as queue_full")
                assert await inbox.process() == filler.message_id
                assert await inbox.process() == lost  # the next redelivery was queued

                async def processed() -> bool:
                    return (await status(lost))["status"] == "processed"

                await until(processed, "the hub to learn the message was processed")
                assert (await status(lost))["dead_letters"] == []
                assert inbox.handled == [filler.message_id, lost]
            finally:
                await inbox.agent.aclose()
                await sender.aclose()

        asyncio.run(scenario())
    finally:
        hub.stop()
