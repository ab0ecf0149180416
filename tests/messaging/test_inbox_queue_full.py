"""An inbox that refuses a message because its queue is full does not remember it: the next
delivery of that message is queued and handled once (it used to be taken for a duplicate,
answered 202 and dropped: never processed, never reported, dead-lettered by the hub).

Real uvicorn servers on 127.0.0.1: the hub (or a stub of it) and agents' inboxes, each agent
running in its inbox server's lifespan as ``otel-agents`` runs it. The agent's handler holds
messages marked ``hold`` until the test opens its gate: the queue (one message) stays full
while it is busy with the held one.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import _http
import httpx
import pytest
from _waits import eventually
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


class Agent:
    """Agent ``agent_id`` run by its inbox server (on ``port``, else a free one): it
    registers, processes and reports by itself (unless not ``run_agent``: it only queues);
    the test notes every response status."""

    def __init__(
        self, agent_id: str, hub_url: str, port: int = 0, *, run_agent: bool = True
    ) -> None:
        self.gate = threading.Event()
        self.started: list[str] = []
        self.handled: list[str] = []
        self.statuses: list[int] = []
        self.agent = RemoteAgent(
            agent_id,
            agent_id,
            ["work"],
            "http://127.0.0.1:1",  # replaced once the port is known
            hub_url,
            security=security(),
            config={"max_queue_size": 1, "heartbeat_interval": 5},
        )

        @self.agent.on()
        async def handle(message: AgentMessage) -> None:
            self.started.append(message.message_id)
            if message.payload.get("hold"):
                await asyncio.to_thread(self.gate.wait, DEADLINE)
            self.handled.append(message.message_id)

        self.app = create_inbox_app(self.agent, run_agent=run_agent)
        self.server = ThreadServer(self._noting, interface="asgi3")
        if port:  # the same endpoint as a process before it: bind it again
            self.server.sock.close()
            self.server.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.server.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.server.sock.bind(("127.0.0.1", port))
            self.server.port = port
        self.agent.endpoint = self.server.url
        self.server.start()

    async def _noting(self, scope: Any, receive: Any, send: Any) -> None:
        async def noting(event: Any) -> None:
            if event["type"] == "http.response.start":
                self.statuses.append(event["status"])
            await send(event)

        await self.app(scope, receive, noting)

    def deliver(self, message: AgentMessage) -> httpx.Response:
        """Deliver ``message`` to this inbox as the hub does (signed)."""
        body = message.to_json().encode()
        signed = security().sign(message.message_id, body)
        headers = {**AUTH, "content-type": "application/json", **signed}
        return _http.post(self.server.url + "/inbox", content=body, headers=headers, timeout=10)

    def busy_and_full(self) -> None:
        """Make the agent busy with a held message and its queue full with another."""
        held, waiting = envelope(hold=True), envelope()
        assert self.deliver(held).status_code == 202
        eventually(lambda: self.started == [held.message_id], "the agent to take the held one")
        assert self.deliver(waiting).status_code == 202  # the queue (1) is full now

    def stop(self) -> None:
        self.gate.set()
        self.server.stop()


def envelope(sender: str = "a", recipient: str = "b", *, hold: bool = False) -> AgentMessage:
    message, _ = new_message(
        sender, recipient, "request", {"hold": hold}, "normal", now=time.time(), timeout=600
    )
    return message


@pytest.fixture
def stub_hub() -> Iterator[tuple[ThreadServer, list[dict[str, Any]]]]:
    """A hub that takes registrations and heartbeats and notes the outcome reports."""
    reports: list[dict[str, Any]] = []

    async def acks(request: Request) -> Response:
        reports.extend(await request.json())
        return JSONResponse({"acknowledged": 0})

    async def anything(request: Request) -> Response:
        return JSONResponse({})

    routes = [
        Route("/acks", acks, methods=["POST"]),
        Route("/{path:path}", anything, methods=["GET", "POST", "DELETE"]),
    ]
    hub = ThreadServer(Starlette(routes=routes)).start()
    try:
        yield hub, reports
    finally:
        hub.stop()


def test_a_message_refused_as_queue_full_is_queued_when_delivered_again(
    stub_hub: tuple[ThreadServer, list[dict[str, Any]]],
) -> None:
    """503 queue_full; once there is room the same id is queued, handled once and reported
    (a third copy is a duplicate: reported again, not handled again)."""
    hub, reports = stub_hub
    agent = Agent("b", hub.url)
    try:
        agent.busy_and_full()
        message = envelope()
        refused = agent.deliver(message)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"] == "queue_full"
        agent.gate.set()
        eventually(lambda: len(agent.handled) == 2, "the agent to catch up")
        assert agent.deliver(message).status_code == 202  # the hub's retry
        eventually(lambda: message.message_id in agent.handled, "the retry to be handled")
        assert agent.deliver(message).status_code == 202  # a copy of what is processed

        def reported() -> bool:
            found = [r["message_id"] for r in reports if r["status"] == "processed"]
            return found.count(message.message_id) == 2

        eventually(reported, "the two reports of the message")
        assert agent.handled.count(message.message_id) == 1
    finally:
        agent.stop()


def test_the_hubs_redelivery_refused_as_queue_full_is_processed_once_later() -> None:
    """A message lost with its agent's process is redelivered by the hub to the agent's new
    process, which is busy with its queue full (503); the next redelivery is queued,
    processed once and the hub learns it: no dead letter."""
    hub = start_hub({"ack_timeout": 3, "retry_backoff": 0.5, "max_delivery_attempts": 10})
    first = second = None
    try:
        # The first process of agent b queues the message and dies without processing it.
        first = Agent("b", hub.url, run_agent=False)

        async def send() -> str:
            sender = RemoteAgent("a", "a", [], "http://127.0.0.1:1", hub.url, security=security())
            try:
                await sender.register()
                await first.agent.register()
                return await sender.send_message("b", "request", {"hold": False})
            finally:
                await sender.aclose()
                await first.agent.aclose()

        lost = asyncio.run(send())
        assert len(first.agent.queue) == 1
        first.stop()

        second = Agent("b", hub.url, port=first.server.port)
        second.busy_and_full()  # before the hub's first redelivery, ack_timeout after the send
        eventually(lambda: 503 in second.statuses, "the hub's redelivery to be refused")
        second.gate.set()

        def status() -> dict[str, Any]:
            found: dict[str, Any] = _http.get(f"{hub.url}/messages/{lost}", headers=AUTH).json()
            return found

        eventually(lambda: status()["status"] == "processed", "the hub to learn it", DEADLINE)
        assert second.handled.count(lost) == 1
        letters = _http.get(f"{hub.url}/dead-letters", headers=AUTH).json()
        assert letters["dead_letters"] == []
    finally:
        for agent in (first, second):
            if agent is not None:
                agent.stop()
        hub.stop()
