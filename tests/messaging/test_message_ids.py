"""A message id belongs to the message that first used it: with per-agent tokens, another
agent can neither take it over (erase a dead letter, overwrite a record, stop a redelivery)
nor read the records and dead letters of messages it neither sent nor received.

The hub runs in process behind httpx's ASGI transport; every inbox is a stub that answers
202 and never reports an outcome, so the hub's redelivery and dead-letter paths run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import _http
import httpx

from otel_agents.messaging import AgentMessage, DuplicateMessageError, SecurityConfig
from otel_agents.messaging._hub import create_hub, create_hub_app
from otel_agents.messaging._message import new_message
from otel_agents.messaging._wire import from_wire, to_wire

TOKENS = {"a": "token-of-a-1234", "b": "token-of-b-1234", "c": "token-of-c-1234"}
SECURITY = SecurityConfig(agent_tokens=TOKENS, signing_key="k" * 32)
#: Long enough for any loaded machine; the tests poll and stop as soon as they may.
DEADLINE = 20.0


@dataclass
class Inboxes:
    """Stub inboxes: each answers 202 and counts what it was sent, by host."""

    received: dict[str, int] = field(default_factory=dict)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        host = dict(scope["headers"]).get(b"host", b"").decode()
        self.received[host] = self.received.get(host, 0) + 1
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 202, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})


@dataclass
class Hub:
    client: httpx.AsyncClient
    inboxes: Inboxes

    @staticmethod
    def headers(agent: str) -> dict[str, str]:
        return {"authorization": f"Bearer {TOKENS[agent]}", "x-agent-id": agent}

    async def send(self, agent: str, message: AgentMessage) -> httpx.Response:
        body = message.to_json().encode()
        signed = SECURITY.sign(message.message_id, body)
        return await self.client.post(
            "/messages", content=body, headers={**self.headers(agent), **signed}
        )

    async def get(self, agent: str, path: str) -> httpx.Response:
        return await self.client.get(path, headers=self.headers(agent))

    async def ack(self, agent: str, message_id: str) -> Any:
        body = [{"message_id": message_id, "status": "processed"}]
        response = await self.client.post("/acks", json=body, headers=self.headers(agent))
        return response.json()


@asynccontextmanager
async def running_hub(config: dict[str, Any]) -> AsyncIterator[Hub]:
    """A hub with agents a, b and c registered (each with its own token)."""
    inboxes = Inboxes()
    inbox_client = _http.AsyncClient(transport=httpx.ASGITransport(app=inboxes))
    hub = create_hub(config, security=SECURITY, client=inbox_client)
    app = create_hub_app(hub, SECURITY)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with _http.AsyncClient(transport=transport, base_url="http://hub") as client:
            for agent in "abc":
                body = {"agent_id": agent, "name": agent, "capabilities": [],
                        "endpoint": f"http://{agent}", "reports_outcomes": True}  # fmt: skip
                response = await client.post("/agents", json=body, headers=Hub.headers(agent))
                assert response.status_code == 201, response.text
            yield Hub(client, inboxes)


def message(sender: str, recipient: str, payload: Any = None) -> AgentMessage:
    made, _ = new_message(
        sender, recipient, "request", payload or {}, "normal", now=time.time(), timeout=300
    )
    return made


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def hijack(of: AgentMessage) -> AgentMessage:
    """Agent b's own message to itself, under the id of ``of``."""
    fake = message("b", "b")
    fake.message_id = of.message_id
    return fake


def test_another_agent_cannot_reuse_the_id_of_a_dead_letter() -> None:
    async def scenario() -> None:
        config = {"ack_timeout": 0.05, "retry_backoff": 0.05, "max_delivery_attempts": 1}
        async with running_hub(config) as hub:
            sent = message("a", "c", {"secret": 1})
            assert (await hub.send("a", sent)).status_code == 202
            x = sent.message_id

            async def dead() -> bool:
                letters = (await hub.get("a", "/dead-letters")).json()["dead_letters"]
                return any(letter["message_id"] == x for letter in letters)

            await until(dead, "the dead letter")
            refused = await hub.send("b", hijack(sent))
            assert refused.status_code == 409, refused.text
            assert refused.json()["error"] == "duplicate_message"
            assert f"message_id={x!r}" in refused.json()["detail"]
            assert await hub.ack("b", x) == {"acknowledged": 0}
            assert await dead()
            record = (await hub.get("a", f"/messages/{x}")).json()
            assert (record["sender_id"], record["recipient_id"]) == ("a", "c")
            assert record["status"] == "dead_lettered"

    asyncio.run(scenario())


def test_another_agent_cannot_stop_the_redelivery_of_a_pending_message() -> None:
    async def scenario() -> None:
        config = {"ack_timeout": 0.05, "retry_backoff": 0.05, "max_delivery_attempts": 1000}
        async with running_hub(config) as hub:
            sent = message("a", "c")
            assert (await hub.send("a", sent)).status_code == 202
            assert (await hub.send("b", hijack(sent))).status_code == 409
            assert await hub.ack("b", sent.message_id) == {"acknowledged": 0}
            seen = hub.inboxes.received.get("c", 0)

            async def redelivered() -> bool:
                return hub.inboxes.received.get("c", 0) >= seen + 2

            await until(redelivered, "redeliveries to c")
            assert hub.inboxes.received.get("b", 0) == 0
            record = (await hub.get("a", f"/messages/{sent.message_id}")).json()
            assert (record["sender_id"], record["recipient_id"]) == ("a", "c")
            assert record["status"] == "delivered"

    asyncio.run(scenario())


def test_a_sender_may_resend_its_own_message_but_not_reuse_its_id() -> None:
    async def scenario() -> None:
        async with running_hub({"ack_timeout": 30}) as hub:
            sent = message("a", "c", {"n": 1})
            assert (await hub.send("a", sent)).status_code == 202
            again = await hub.send("a", sent)  # a retry: the same message, signed anew
            assert again.status_code == 202, again.text
            assert again.json() == {"message_id": sent.message_id}
            assert hub.inboxes.received["c"] == 2  # the inbox drops the copy it holds
            other = message("a", "b", {"n": 2})
            other.message_id = sent.message_id
            refused = await hub.send("a", other)
            assert refused.status_code == 409, refused.text
            assert hub.inboxes.received.get("b", 0) == 0
            record = (await hub.get("a", f"/messages/{sent.message_id}")).json()
            assert record["recipient_id"] == "c"

    asyncio.run(scenario())


def test_a_refused_id_in_a_batch_refuses_that_message_only() -> None:
    async def scenario() -> None:
        async with running_hub({"ack_timeout": 30}) as hub:
            sent = message("a", "c")
            assert (await hub.send("a", sent)).status_code == 202
            fresh = message("b", "c")
            batch = [hijack(sent), fresh]
            body = ("[" + ",".join(m.to_json() for m in batch) + "]").encode()
            signed = SECURITY.sign(batch[0].message_id, body)
            answer = await hub.client.post(
                "/messages", content=body, headers={**hub.headers("b"), **signed}
            )
            assert answer.status_code == 202, answer.text
            (refused,) = answer.json()["refused"]
            assert refused["message_id"] == sent.message_id
            assert refused["error"] == "duplicate_message"
            record = (await hub.get("b", f"/messages/{fresh.message_id}")).json()
            assert record["status"] == "delivered"

    asyncio.run(scenario())


def test_an_agent_sees_only_the_records_and_dead_letters_of_its_own_messages() -> None:
    async def scenario() -> None:
        config = {"ack_timeout": 0.05, "retry_backoff": 0.05, "max_delivery_attempts": 1}
        async with running_hub(config) as hub:
            sent = message("a", "c")
            assert (await hub.send("a", sent)).status_code == 202
            x = sent.message_id

            async def letters(agent: str) -> list[str]:
                found = (await hub.get(agent, "/dead-letters")).json()["dead_letters"]
                return [letter["message_id"] for letter in found]

            async def dead() -> bool:
                return x in await letters("a")

            await until(dead, "the dead letter")
            assert await letters("c") == [x]  # its recipient sees it too
            assert await letters("b") == []
            view = await hub.get("b", "/dead-letters")
            assert (view.json()["count"], view.json()["pending"]) == (0, 0)
            for agent in "ac":
                assert (await hub.get(agent, f"/messages/{x}")).status_code == 200
            hidden = await hub.get("b", f"/messages/{x}")
            assert hidden.status_code == 404  # as for an id the hub never saw
            assert hidden.json()["error"] == "unknown_message"

    asyncio.run(scenario())


def test_a_duplicate_message_id_crosses_the_wire_as_its_own_error() -> None:
    refused = DuplicateMessageError("message_id='x' is already taken")
    assert to_wire(refused)[:2] == (409, "duplicate_message")
    back = from_wire("duplicate_message", "the hub refused it", 409)
    assert isinstance(back, DuplicateMessageError)
    assert isinstance(back, ValueError)  # a bad argument, as DuplicateAgentError
