"""Credentials in a ``RemoteAgent``'s ``hub_url`` (``http://user:password@hub``, sent to the
hub as Basic auth) reach the hub and nothing else: no error text, no log line."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from otel_agents._errors import InvalidValueError
from otel_agents.messaging import DeliveryError
from otel_agents.messaging._remote import RemoteAgent
from tests.messaging.servers import ThreadServer

SECRET = "pw-SECRET"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def leaks(caplog: pytest.LogCaptureFixture, *errors: BaseException) -> list[str]:
    """Every log line (with its traceback) and error text that shows the secret."""
    texts = [caplog.text]
    texts += [record.getMessage() for record in caplog.records]
    texts += ["".join(traceback.format_exception(error)) for error in errors]
    return [text for text in texts if SECRET in text]


@pytest.mark.integration  # connects to a closed loopback port
def test_an_unreachable_hub_is_named_without_its_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = closed_port()
    agent = RemoteAgent(
        "a", "a", [], "http://127.0.0.1:1", f"http://user:{SECRET}@127.0.0.1:{port}"
    )

    async def go() -> DeliveryError:
        try:
            with pytest.raises(DeliveryError) as raised:
                await agent.register()
            stop = asyncio.Event()
            task = asyncio.create_task(agent.run(stop))  # logs its failed registration
            await asyncio.sleep(0)
            with caplog.at_level(logging.DEBUG, logger="otel_agents.messaging"):
                for _ in range(200):  # bounded: 10 s
                    if any("registering a" in r.getMessage() for r in caplog.records):
                        break
                    await asyncio.sleep(0.05)
            stop.set()
            await asyncio.wait_for(task, timeout=10)
            return raised.value
        finally:
            await agent.aclose()

    with caplog.at_level(logging.DEBUG, logger="otel_agents.messaging"):
        error = asyncio.run(go())
    assert f"the hub at http://127.0.0.1:{port} is unreachable" in str(error)
    assert any(f"with http://127.0.0.1:{port} failed" in r.getMessage() for r in caplog.records)
    assert leaks(caplog, error) == []


class FlakyHub:
    """A hub that refuses the first registration, a heartbeat, then forgets the agent and
    refuses its first registration again: every warning ``RemoteAgent`` logs about its hub.
    It notes the authorization header of every request."""

    def __init__(self) -> None:
        self.registrations = 0
        self.heartbeats = 0
        self.authorizations: list[str] = []

        async def register(request: Request) -> Response:
            self.authorizations.append(request.headers.get("authorization", ""))
            self.registrations += 1
            if self.registrations in (1, 3):
                return JSONResponse({"error": "internal", "detail": "busy"}, status_code=503)
            return JSONResponse({"agent_id": "a"})

        async def heartbeat(request: Request) -> Response:
            self.authorizations.append(request.headers.get("authorization", ""))
            self.heartbeats += 1
            if self.heartbeats == 1:
                return JSONResponse({"error": "internal", "detail": "busy"}, status_code=503)
            if self.heartbeats == 2:
                return JSONResponse({"error": "unknown_agent", "detail": "who?"}, status_code=404)
            return JSONResponse({})

        self.server = ThreadServer(
            Starlette(
                routes=[
                    Route("/agents", register, methods=["POST"]),
                    Route("/agents/a/heartbeat", heartbeat, methods=["POST"]),
                ]
            )
        )


@pytest.fixture
def flaky_hub() -> Iterator[FlakyHub]:
    hub = FlakyHub()
    hub.server.start()
    try:
        yield hub
    finally:
        hub.server.stop()


@pytest.mark.integration  # a stub hub on 127.0.0.1
def test_the_hubs_credentials_reach_the_hub_but_no_log_line(
    flaky_hub: FlakyHub, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://user:{SECRET}@127.0.0.1:{flaky_hub.server.port}"
    agent = RemoteAgent(
        "a", "a", [], "http://127.0.0.1:1", url, config={"heartbeat_interval": 0.05}
    )

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        try:
            for _ in range(400):  # bounded: 20 s (one 1 s and one 0.5 s retry wait)
                if flaky_hub.heartbeats >= 3:
                    break
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=10)
            await agent.aclose()

    with caplog.at_level(logging.DEBUG, logger="otel_agents.messaging"):
        asyncio.run(go())
    assert flaky_hub.heartbeats >= 3
    messages = [record.getMessage() for record in caplog.records]
    shown = f"http://127.0.0.1:{flaky_hub.server.port}"
    for said in (
        f"registering a with {shown} failed",
        f"heartbeat to {shown} failed",
        f"the hub at {shown} does not know agent a",
        f"registering a again with {shown} failed",
        f"agent a is registered again with {shown}",
    ):
        assert any(said in message for message in messages), (said, messages)
    assert leaks(caplog) == []
    basic = "Basic " + base64.b64encode(f"user:{SECRET}".encode()).decode()
    assert set(flaky_hub.authorizations) == {basic}  # as Basic auth, as httpx made of the URL


@pytest.mark.integration  # a stub hub on 127.0.0.1
def test_the_hubs_credentials_reach_no_info_log_line_of_httpx(
    flaky_hub: FlakyHub, caplog: pytest.LogCaptureFixture
) -> None:
    """httpx logs each request's URL at INFO: the userinfo goes as Basic auth, not in it."""
    url = f"http://us%40er:{SECRET}@127.0.0.1:{flaky_hub.server.port}"
    agent = RemoteAgent("a", "a", [], "http://127.0.0.1:1", url)

    async def go() -> DeliveryError:
        try:
            with pytest.raises(DeliveryError) as refused:  # the stub's first answer is 503
                await agent.register()
            await agent.register()
            return refused.value
        finally:
            await agent.aclose()

    caplog.set_level(logging.INFO)
    error = asyncio.run(go())
    assert any(record.name == "httpx" for record in caplog.records)
    assert leaks(caplog, error) == []
    basic = "Basic " + base64.b64encode(f"us@er:{SECRET}".encode()).decode()
    assert flaky_hub.authorizations == [basic, basic]


@pytest.mark.parametrize(
    "hub_url",
    [f"ftp://user:{SECRET}@hub", f"http://user:{SECRET}@hub:port", f"user:{SECRET}@hub", 8700],
)
def test_a_bad_hub_url_is_refused_without_being_repeated(hub_url: Any) -> None:
    with pytest.raises(InvalidValueError, match="hub_url is not valid") as raised:
        RemoteAgent("a", "a", [], "http://127.0.0.1:1", hub_url)
    assert SECRET not in str(raised.value)
