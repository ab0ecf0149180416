"""The memory the hub and an agent's inbox hold for payloads is bounded in bytes.

A payload parsed from JSON takes 4 to 24 times its wire size in Python objects. The hub kept
every message with its payload in its history (10,000 records) and its pending deliveries
(10,000 messages), bounded in count only: measured, 400 messages of ~1 MB grew a hub to
3 GB. Now the hub's history keeps a payload digest instead of the payload, its pending
deliveries are held as JSON text and bounded by ``max_pending_bytes``, and an inbox bounds
the messages it accepted and has not settled by ``max_queued_bytes``. Memory is asserted by
the tracked byte counters, never by RSS.

Real uvicorn servers on 127.0.0.1: the hub and agents' inboxes, whose agents queue what they
receive and process (and report) only when the test says so.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator

import _http
import pytest
from _servers import ThreadServer
from _waits import eventually
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from otel_agents.messaging import AgentMessage, QueueFullError
from otel_agents.messaging._hub import create_hub, create_hub_app
from otel_agents.messaging._message import new_message
from otel_agents.messaging._protocol import AgentCommunicationProtocol
from otel_agents.messaging._records import MessageStatus, payload_digest
from otel_agents.messaging._remote import RemoteAgent
from tests.messaging.servers import AUTH, post_signed, security, start_hub, start_inbox

pytestmark = pytest.mark.integration  # a hub and inboxes on 127.0.0.1

#: Small limits: three of the ~2.3 KB messages below fit, the fourth does not.
LIMIT = 8192
PAD = "x" * 2000
#: Generous bound on every wait (a loaded machine), never a speed assertion.
DEADLINE = 30.0


def message(sender: str, recipient: str, pad: str = PAD) -> AgentMessage:
    made, _ = new_message(
        sender, recipient, "request", {"pad": pad}, "normal", now=time.time(), timeout=300
    )
    return made


def hub_view(url: str) -> dict[str, int]:
    """The hub's pending count and bytes (shared secret: every message)."""
    found = _http.get(f"{url}/dead-letters", headers=AUTH, timeout=10).json()
    return {"pending": found["pending"], "pending_bytes": found["pending_bytes"]}


@pytest.fixture
def served_hub() -> Iterator[tuple[AgentCommunicationProtocol, ThreadServer]]:
    """A hub (its protocol object at hand, to look at its records) on 127.0.0.1."""
    hub = create_hub({"ack_timeout": 600, "max_pending_bytes": LIMIT}, security=security())
    server = ThreadServer(create_hub_app(hub, security())).start()
    try:
        yield hub, server
    finally:
        server.stop()


def with_silent_agent(
    hub: ThreadServer, steps: Callable[[RemoteAgent, RemoteAgent], Awaitable[None]]
) -> None:
    """Run ``steps(silent, sender)`` with two agents registered at ``hub``: ``silent``, an
    inbox that processes only when told, and ``sender``; both closed, the inbox stopped."""
    silent, silent_server = start_inbox("silent", hub.url)
    sender = RemoteAgent("sender", "sender", [], "http://127.0.0.1:1", hub.url, security=security())

    async def scenario() -> None:
        try:
            for agent in (silent, sender):
                await agent.register()
            await steps(silent, sender)
        finally:
            for agent in (silent, sender):
                await agent.aclose()

    try:
        asyncio.run(scenario())
    finally:
        silent_server.stop()


def test_past_max_pending_bytes_the_hub_refuses_queue_full_and_a_report_frees_room(
    served_hub: tuple[AgentCommunicationProtocol, ThreadServer],
) -> None:
    """Three ~2.3 KB messages to an agent that has not reported fill max_pending_bytes=8192:
    the fourth is refused 503 queue_full naming the setting, the hub's pending bytes are
    those three messages' JSON (the same bytes the inbox counts), and once the agent
    processes and reports one, a message for it is taken again."""
    _, hub = served_hub

    async def steps(silent: RemoteAgent, sender: RemoteAgent) -> None:
        for _ in range(3):
            await sender.send_message("silent", "request", {"pad": PAD})
        with pytest.raises(QueueFullError, match=f"max_pending_bytes={LIMIT}") as refused:
            await sender.send_message("silent", "request", {"pad": PAD})
        assert "retry later, or raise max_pending_bytes" in str(refused.value)
        assert len(silent.queue) == 3  # nothing delivered past the limit
        view = hub_view(hub.url)
        assert view["pending"] == 3
        assert view["pending_bytes"] == silent.messages.unsettled_bytes
        assert 3 * len(PAD) < view["pending_bytes"] <= LIMIT

        processed = await silent.process_next()  # processed and reported: the hub forgets it
        await silent._reports.aclose(timeout=30)
        after = hub_view(hub.url)
        assert after["pending"] == 2
        assert after["pending_bytes"] == view["pending_bytes"] - len(processed.to_json())
        assert after["pending_bytes"] == silent.messages.unsettled_bytes
        await sender.send_message("silent", "request", {"pad": PAD})
        assert len(silent.queue) == 3

    with_silent_agent(hub, steps)


def test_the_hubs_history_keeps_no_payload_and_still_tells_a_retry_from_a_takeover(
    served_hub: tuple[AgentCommunicationProtocol, ThreadServer],
) -> None:
    """After delivery the hub's record of a message holds neither payload nor headers, only
    the payload's digest; the same envelope sent again passes (while pending and after it
    was reported), and another payload under its id is refused 409 duplicate_message."""
    protocol, hub = served_hub
    sent = message("sender", "silent", "secret-" * 300)
    body = sent.to_json().encode()
    changed = message("sender", "silent", "other-" * 300)
    changed.message_id, changed.created_at = sent.message_id, sent.created_at
    changed.expires_at = sent.expires_at

    def post(envelope: bytes) -> tuple[int, str]:
        answer = post_signed(f"{hub.url}/messages", envelope, sent.message_id)
        error: str = answer.json().get("error", "") if answer.status_code != 202 else ""
        return answer.status_code, error

    async def steps(silent: RemoteAgent, sender: RemoteAgent) -> None:
        assert post(body) == (202, "")
        record = protocol.messages.get(sent.message_id)
        assert record is not None
        assert record.status is MessageStatus.DELIVERED
        assert (record.message.payload, record.message.headers) == (None, {})
        assert record.digest == payload_digest(sent.payload)
        assert (record.message.sender_id, record.message.recipient_id) == ("sender", "silent")
        held = hub_view(hub.url)["pending_bytes"]
        assert held == silent.messages.unsettled_bytes  # the JSON the inbox got, as held
        assert len(body) <= held <= len(body) + 256  # plus the hub's trace context, if any

        assert post(body) == (202, "")  # a retry while pending
        assert post(changed.to_json().encode()) == (409, "duplicate_message")
        assert hub_view(hub.url)["pending"] == 1  # the retry is counted once

        await silent.process_next()
        await silent._reports.aclose(timeout=30)
        assert hub_view(hub.url) == {"pending": 0, "pending_bytes": 0}
        assert post(body) == (202, "")  # a retry after the report: the record decides
        assert post(changed.to_json().encode()) == (409, "duplicate_message")
        shown = _http.get(f"{hub.url}/messages/{sent.message_id}", headers=AUTH, timeout=10)
        assert "payload" not in shown.json()
        assert "secret-" not in shown.text

    with_silent_agent(hub, steps)


@pytest.fixture
def hub() -> Iterator[ThreadServer]:
    server = start_hub({"ack_timeout": 600})
    try:
        yield server
    finally:
        server.stop()


def test_past_max_queued_bytes_the_inbox_answers_queue_full_and_recovers(
    hub: ThreadServer,
) -> None:
    """An inbox with max_queued_bytes=8192 takes three ~2.3 KB messages and answers the
    fourth 503 queue_full naming the setting (it does not remember it); once the agent
    processes one, its bytes no longer count, its record keeps no payload, and the refused
    message is taken when delivered again."""
    agent, server = start_inbox("b", hub.url, {"max_queued_bytes": LIMIT})
    messages = [message("a", "b") for _ in range(4)]

    def deliver(sent: AgentMessage) -> tuple[int, str]:
        answer = post_signed(f"{server.url}/inbox", sent.to_json().encode(), sent.message_id)
        return answer.status_code, answer.text

    async def process_one() -> AgentMessage:
        try:
            return await agent.process_next()
        finally:
            await agent.aclose()

    try:
        for sent in messages[:3]:
            assert deliver(sent)[0] == 202
        status, text = deliver(messages[3])
        assert status == 503, text
        assert '"queue_full"' in text
        assert f"max_queued_bytes={LIMIT}" in text
        assert len(agent.queue) == 3
        assert agent.messages.get(messages[3].message_id) is None
        held = sum(len(m.to_json()) for m in messages[:3])
        assert agent.messages.unsettled_bytes == held <= LIMIT

        processed = asyncio.run(process_one())
        assert agent.messages.unsettled_bytes == held - len(processed.to_json())
        record = agent.messages.get(processed.message_id)
        assert record is not None
        assert record.status is MessageStatus.PROCESSED
        assert record.message.payload is None  # settled: the payload is dropped
        assert processed.payload == {"pad": PAD}  # the handler's copy is untouched
        assert deliver(messages[3])[0] == 202
        assert len(agent.queue) == 3
    finally:
        server.stop()


def test_the_hub_redelivers_a_pending_message_as_the_json_it_holds() -> None:
    """An inbox that answers 202 and never reports gets the message again after
    ack_timeout: the very bytes of the first delivery, payload included, signed anew; the
    hub counts them once in its pending bytes."""
    config = {"ack_timeout": 0.2, "retry_backoff": 0.2, "max_delivery_attempts": 1000}
    hub = ThreadServer(create_hub_app(create_hub(config, security=security()), security()))
    bodies: list[bytes] = []

    async def inbox(request: Request) -> Response:
        body = await request.body()
        security().verify(request.headers, body, json.loads(body)["message_id"])  # or 500
        bodies.append(body)
        return JSONResponse({"message_id": json.loads(body)["message_id"]}, status_code=202)

    stub = ThreadServer(Starlette(routes=[Route("/inbox", inbox, methods=["POST"])]))
    hub.start()
    stub.start()
    try:
        for agent, endpoint in (("a", "http://127.0.0.1:1"), ("stub", stub.url)):
            body = {"agent_id": agent, "name": agent, "capabilities": [],
                    "endpoint": endpoint, "reports_outcomes": True}  # fmt: skip
            answer = _http.post(f"{hub.url}/agents", json=body, headers=AUTH, timeout=10)
            assert answer.status_code == 201, answer.text
        sent = message("a", "stub")
        answer = post_signed(f"{hub.url}/messages", sent.to_json().encode(), sent.message_id)
        assert answer.status_code == 202, answer.text
        eventually(lambda: len(bodies) >= 2, "a redelivery", timeout=DEADLINE)
        assert bodies[1] == bodies[0]
        assert json.loads(bodies[1])["payload"] == {"pad": PAD}
        assert hub_view(hub.url) == {"pending": 1, "pending_bytes": len(bodies[0])}
    finally:
        stub.stop()
        hub.stop()
