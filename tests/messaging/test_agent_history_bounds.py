"""An agent's bounded history never forgets a message it has not settled.

The agent decides from its history whether a delivery is a duplicate and what outcome to
report to the hub. With history and queue the same size (the defaults, 10000 each; 3 here)
a backlog used to evict the record of a message still queued or being processed: its outcome
was never reported, and the hub's redelivery ran it again. The hub is a fake here (an httpx
transport noting ``POST /acks``): what is under test is the agent's own bookkeeping.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import _http
import httpx
import pytest

from otel_agents.messaging import AgentMessage, QueueFullError
from otel_agents.messaging._message import new_message
from otel_agents.messaging._records import MessageLog, MessageStatus
from otel_agents.messaging._remote import RemoteAgent

#: Generous bound on every wait (a loaded machine), never a speed assertion.
DEADLINE = 30.0


class Agent:
    """A RemoteAgent with queue = history = 3 whose hub notes the outcome reports."""

    def __init__(self) -> None:
        self.reports: list[dict[str, Any]] = []
        self.runs: list[str] = []
        self.gate = asyncio.Event()
        self.started = asyncio.Event()
        self.agent = RemoteAgent(
            "c",
            "C",
            [],
            "http://c",
            "http://hub",
            config={"max_queue_size": 3, "max_message_history": 3},
            client=_http.AsyncClient(transport=httpx.MockTransport(self._hub)),
        )

        @self.agent.on()
        async def handle(message: AgentMessage) -> None:
            self.started.set()
            if message.payload.get("hold"):
                await asyncio.wait_for(self.gate.wait(), DEADLINE)
            self.runs.append(message.message_id)

    def _hub(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/acks":
            self.reports.extend(json.loads(request.content))
        return httpx.Response(200, json={})

    def message(self, priority: str = "normal", *, hold: bool = False) -> AgentMessage:
        message, _ = new_message(
            "a", "c", "request", {"hold": hold}, priority, now=time.time(), timeout=600
        )
        return message

    async def reported(self, message_id: str, times: int = 1) -> list[str]:
        """The statuses reported for ``message_id``, once there are ``times`` of them."""
        deadline = time.monotonic() + DEADLINE
        while True:
            found = [r["status"] for r in self.reports if r["message_id"] == message_id]
            if len(found) >= times or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.01)


def test_a_message_being_processed_keeps_its_record_so_its_outcome_is_reported() -> None:
    """Queue full (3) while one is processed: the next arrival is refused queue_full rather
    than evict the in-flight record; the in-flight one is reported, and its redelivery is
    reported again, not run again."""

    async def scenario() -> None:
        c = Agent()
        try:
            first = c.message(hold=True)
            c.agent.accept(first)
            working = asyncio.create_task(c.agent.process_next())
            await asyncio.wait_for(c.started.wait(), DEADLINE)
            for _ in range(2):
                c.agent.accept(c.message())
            with pytest.raises(QueueFullError, match="max_message_history"):
                c.agent.accept(c.message())
            c.gate.set()
            assert await working is first
            assert await c.reported(first.message_id) == ["processed"]
            c.agent.accept(first)  # the hub redelivers what it had not heard of in time
            assert await c.reported(first.message_id, 2) == ["processed", "processed"]
            assert len(c.agent.queue) == 2
            assert c.runs.count(first.message_id) == 1
        finally:
            await c.agent.aclose()

    asyncio.run(scenario())


def test_a_low_priority_message_behind_newer_ones_keeps_its_record_while_queued() -> None:
    """Urgent messages keep arriving and are processed ahead of a low one: the settled
    records are dropped, not the queued one, whose outcome is then reported once."""

    async def scenario() -> None:
        c = Agent()
        try:
            low = c.message("low")
            c.agent.accept(low)
            for _ in range(2):
                c.agent.accept(c.message("high"))
            for _ in range(3):  # each processed urgent one makes room for another
                assert (await c.agent.process_next()).message_id != low.message_id
                c.agent.accept(c.message("high"))
            while len(c.agent.queue):
                await c.agent.process_next()
            assert await c.reported(low.message_id) == ["processed"]
            c.agent.accept(low)  # a redelivery: a duplicate, reported again
            assert len(c.agent.queue) == 0
            assert await c.reported(low.message_id, 2) == ["processed", "processed"]
            assert c.runs.count(low.message_id) == 1
            assert len(c.agent.messages) == 3
        finally:
            await c.agent.aclose()

    asyncio.run(scenario())


def test_a_log_that_keeps_unsettled_records_drops_the_oldest_settled_one() -> None:
    """Settled records go oldest-settled first; with none settled the log waits (over its
    size by the one the owner checked has_room for) until one settles."""
    log = MessageLog(2, keep_unsettled=True)
    a, b, c = (
        new_message("s", "r", "request", {}, "normal", now=1.0, timeout=60)[0] for _ in range(3)
    )
    log.add(a, 1.0)
    log.add(b, 1.0)
    assert not log.has_room()
    log.update(b.message_id, MessageStatus.PROCESSED, 2.0)
    assert log.has_room()
    log.add(c, 2.0)
    assert log.get(b.message_id) is None
    assert log.get(a.message_id) is not None
    assert log.dropped == 1
    plain = MessageLog(2)
    for message in (a, b, c):
        plain.add(message, 1.0)
    assert plain.get(a.message_id) is None  # elsewhere the oldest record goes, as before
    assert plain.has_room()
