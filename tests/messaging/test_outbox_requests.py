"""A batch of sends that spans several requests to the hub is settled request by request:
one request's failure reaches the senders of its own messages only, never those whose
messages an earlier (or later) request delivered. A real HTTP server on 127.0.0.1 plays the
hub: it takes one request and refuses the other."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from otel_agents.messaging import AgentMessage, DeliveryError
from otel_agents.messaging._message import new_message
from otel_agents.messaging._outbox import Outbox
from otel_agents.messaging._remote import RemoteAgent
from tests.messaging.servers import ThreadServer

#: Two 200-byte payloads fit in one request of this size, a 600-byte one with them does not.
LIMIT = 1024


class Hub:
    """Answers the ``refuse``-th request to ``POST /messages`` (from 1) with a 502, as a hub
    does when the recipient's inbox is unreachable, and takes every other one."""

    def __init__(self, refuse: int) -> None:
        self.refuse = refuse
        self.requests: list[list[int]] = []  # the payloads' "n", per request
        self.server = ThreadServer(
            Starlette(routes=[Route("/messages", self.messages, methods=["POST"])])
        )

    async def messages(self, request: Request) -> Response:
        data = json.loads(await request.body())
        envelopes = data if isinstance(data, list) else [data]
        self.requests.append([envelope["payload"]["n"] for envelope in envelopes])
        if len(self.requests) == self.refuse:
            return JSONResponse(
                {"error": "recipient_unreachable", "detail": "agent 'c' is unreachable"},
                status_code=502,
            )
        if isinstance(data, list):
            return JSONResponse({"refused": []}, status_code=202)
        return JSONResponse({"message_id": data["message_id"]}, status_code=202)


@pytest.fixture
def make_hub() -> Iterator[Any]:
    made: list[Hub] = []

    def make(refuse: int) -> Hub:
        hub = Hub(refuse)
        made.append(hub)
        hub.server.start()
        return hub

    try:
        yield make
    finally:
        for hub in made:
            hub.server.stop()


def send_three(hub: Hub) -> list[str | BaseException]:
    """Send n=1 and n=2 (one request together) and n=3 (too big to join them) at once."""

    async def go() -> list[str | BaseException]:
        agent = RemoteAgent(
            "a", "a", [], "http://127.0.0.1:1", hub.server.url, config={"max_message_size": LIMIT}
        )
        try:
            sends = [
                agent.send_message("b", "request", {"n": 1, "pad": "x" * 200}),
                agent.send_message("b", "request", {"n": 2, "pad": "x" * 200}),
                agent.send_message("c", "request", {"n": 3, "pad": "x" * 600}),
            ]
            return list(await asyncio.gather(*sends, return_exceptions=True))
        finally:
            await agent.aclose()

    return asyncio.run(go())


@pytest.mark.integration  # a stub hub on 127.0.0.1
def test_a_later_requests_failure_does_not_fail_the_senders_an_earlier_one_delivered(
    make_hub: Any,
) -> None:
    hub = make_hub(refuse=2)
    first, second, third = send_three(hub)
    assert hub.requests == [[1, 2], [3]]  # one batch, two requests
    assert isinstance(first, str)
    assert isinstance(second, str)
    assert isinstance(third, DeliveryError)
    assert third.reason == "recipient_unreachable"


@pytest.mark.integration
def test_an_earlier_requests_failure_does_not_fail_the_senders_a_later_one_delivered(
    make_hub: Any,
) -> None:
    hub = make_hub(refuse=1)
    first, second, third = send_three(hub)
    assert hub.requests == [[1, 2], [3]]
    assert isinstance(first, DeliveryError)
    assert isinstance(second, DeliveryError)
    assert first.reason == second.reason == "recipient_unreachable"
    assert isinstance(third, str)


def messages(count: int) -> list[AgentMessage]:
    return [
        new_message("a", "b", "request", {"n": n}, "normal", now=1e9, timeout=60)[0]
        for n in range(count)
    ]


def test_the_outbox_keeps_what_a_post_settled_before_it_broke() -> None:
    """A post that settled the first request, then failed: the first sender succeeds, the
    others get the failure; a message the post never settled is not reported sent."""
    first, second, third = messages(3)

    async def post(
        batch: list[AgentMessage],
    ) -> AsyncGenerator[dict[str, BaseException | None], None]:
        assert batch == [first, second, third]
        yield {first.message_id: None}
        raise OSError("the connection broke")

    async def never_settles_third(
        batch: list[AgentMessage],
    ) -> AsyncGenerator[dict[str, BaseException | None], None]:
        yield {first.message_id: None, second.message_id: DeliveryError("refused")}

    async def go(poster: Any) -> list[Any]:
        outbox = Outbox(poster)
        sends = [outbox.submit(message) for message in (first, second, third)]
        return list(await asyncio.gather(*sends, return_exceptions=True))

    ok, broken, also_broken = asyncio.run(go(post))
    assert ok is None
    assert isinstance(broken, OSError)
    assert also_broken is broken
    ok, refused, unsettled = asyncio.run(go(never_settles_third))
    assert ok is None
    assert isinstance(refused, DeliveryError)
    assert isinstance(unsettled, RuntimeError)


def test_the_outbox_settles_every_sender_of_a_message_id_sent_twice() -> None:
    """Two sends of one envelope in one batch both get its outcome (none waits forever)."""
    (message,) = messages(1)

    async def post(
        batch: list[AgentMessage],
    ) -> AsyncGenerator[dict[str, BaseException | None], None]:
        assert batch == [message, message]
        yield {message.message_id: None}

    async def go() -> list[Any]:
        outbox = Outbox(post)
        sends = [outbox.submit(message), outbox.submit(message)]
        return list(await asyncio.wait_for(asyncio.gather(*sends), timeout=10))

    assert asyncio.run(go()) == [None, None]
