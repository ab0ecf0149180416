"""The hub's calls to agents' inboxes are bounded: one overall deadline per call, a capped
answer, and redeliveries that run side by side, so one hostile or stuck inbox costs its own
messages and nobody else's. Real uvicorn servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import _http
import pytest
from _servers import ThreadServer

from otel_agents.messaging import AgentCommunicationProtocol, DeliveryError
from otel_agents.messaging._delivery import DeliveryTracker
from otel_agents.messaging._message import AgentMessage, MessagePriority, MessageType
from otel_agents.messaging._registry import AgentInfo
from otel_agents.messaging._router import Router
from otel_agents.messaging._transport import HttpTransport
from tests.messaging.conftest import FakeClock

pytestmark = pytest.mark.integration  # inboxes served by uvicorn on 127.0.0.1

#: The transport's timeout in these tests: each call to an inbox must end within it.
TIMEOUT = 1.0
#: How long the dripping inbox would drip if nobody gave up on it (a hang guard).
DRIP_FOR = 20.0
#: The test's own bound on anything it waits for: generous, not a speed target.
HANG_GUARD = 30.0  # more than DRIP_FOR

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def _read_body(receive: Any) -> None:
    while (await receive()).get("more_body"):
        pass


def dripping_inbox(release: threading.Event) -> Asgi:
    """Answers 202, then one byte every 0.3 s until ``release`` (or :data:`DRIP_FOR` s)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await _read_body(receive)
        await send({"type": "http.response.start", "status": 202, "headers": []})
        loop = asyncio.get_running_loop()
        end = loop.time() + DRIP_FOR
        while not release.is_set() and loop.time() < end:
            await send({"type": "http.response.body", "body": b" ", "more_body": True})
            await asyncio.sleep(0.3)
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def recording_inbox(received: list[str], then: threading.Event) -> Asgi:
    """A well-behaved inbox: answers 202 at once, notes each delivery it got, sets ``then``."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await _read_body(receive)
        received.append("good received")
        then.set()
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def huge_inbox(declared: bool) -> Asgi:
    """Answers 202 with 64 MiB of body, with its length declared or chunked."""
    size, chunk = 64 * 1024 * 1024, b" " * (1 << 20)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await _read_body(receive)
        headers = [(b"content-length", str(size).encode())] if declared else []
        await send({"type": "http.response.start", "status": 202, "headers": headers})
        for _ in range(size // len(chunk)):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    return app


@pytest.fixture
def serve() -> Iterator[Callable[[Asgi], ThreadServer]]:
    """Start ASGI apps on real servers; every one is stopped after the test."""
    started: list[ThreadServer] = []

    def start(app: Asgi) -> ThreadServer:
        server = ThreadServer(app, lifespan="off").start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Ends the dripping inbox's drip when the test is done, passed or failed."""
    event = threading.Event()
    yield event
    event.set()


class RecordingTransport(HttpTransport):
    """The real transport, noting when each delivery ended (the order the test asserts)."""

    def __init__(self, events: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.events = events

    async def deliver_async(self, message: AgentMessage, recipient: AgentInfo) -> None:
        try:
            await super().deliver_async(message, recipient)
        finally:
            self.events.append(f"{recipient.agent_id} call ended")

    async def redeliver_async(
        self, message: AgentMessage, wire: bytes, recipient: AgentInfo
    ) -> None:
        try:  # the hub redelivers the JSON it holds
            await super().redeliver_async(message, wire, recipient)
        finally:
            self.events.append(f"{recipient.agent_id} call ended")


def make_hub(clock: FakeClock, transport: HttpTransport) -> AgentCommunicationProtocol:
    config = {"heartbeat_monitor": False, "ack_timeout": 5.0, "retry_backoff": 5.0}
    hub = AgentCommunicationProtocol(config, transport=transport, clock=clock)
    hub.registry.register("sender", "sender", ["x"], "http://127.0.0.1:9")
    return hub


def envelope(clock: FakeClock, recipient: str) -> AgentMessage:
    now = clock.time()
    return AgentMessage(
        AgentMessage.new_id(),
        MessageType.REQUEST,
        MessagePriority.NORMAL,
        "sender",
        recipient,
        {},
        now,
        now + 600,
    )


def test_routing_to_an_inbox_that_drips_its_answer_fails_at_the_overall_deadline(
    serve: Callable[[Asgi], ThreadServer], release: threading.Event, clock: FakeClock
) -> None:
    """httpx's timeout is per read: a byte every 0.3 s never trips it. The transport's
    deadline covers the whole call, so the delivery fails (and is recorded) instead of
    waiting out the drip."""
    evil = serve(dripping_inbox(release))
    client = _http.AsyncClient(timeout=TIMEOUT)  # per read: the drip never trips it
    transport = HttpTransport(timeout=TIMEOUT, client=client)
    hub = make_hub(clock, transport)
    hub.registry.register("evil", "evil", ["x"], evil.url, reports_outcomes=True)
    tracker = DeliveryTracker(hub)
    message = envelope(clock, "evil")

    async def main() -> list[Any]:
        router = Router(hub, tracker.delivered)
        try:
            return await asyncio.wait_for(router.route([message]), HANG_GUARD)
        finally:
            await transport.aclose()
            await client.aclose()

    (error,) = asyncio.run(main())
    assert not release.is_set()  # the inbox was still dripping when the hub gave up
    assert isinstance(error, DeliveryError)
    assert error.reason == "recipient_timeout"
    assert f"timeout={TIMEOUT:g} s" in str(error)
    record = hub.get_message_status(message.message_id)
    assert (record.status.value, record.error_type) == ("failed", "recipient_timeout")
    assert tracker.pending() == 0  # not accepted, so not waiting for an outcome


def test_the_blocking_send_to_an_inbox_that_drips_its_answer_fails_too(
    serve: Callable[[Asgi], ThreadServer], release: threading.Event, clock: FakeClock
) -> None:
    """``send_message`` on an HTTP transport uses the blocking client: same deadline."""
    evil = serve(dripping_inbox(release))
    hub = make_hub(clock, HttpTransport(timeout=TIMEOUT))
    hub.registry.register("evil", "evil", ["x"], evil.url)
    try:
        with pytest.raises(DeliveryError) as raised:
            hub.send_message("sender", "evil", MessageType.REQUEST, {})
    finally:
        hub.transport.close()
    assert not release.is_set()
    assert raised.value.reason == "recipient_timeout"


def test_a_slow_inbox_does_not_hold_another_agents_redelivery_behind_it(
    serve: Callable[[Asgi], ThreadServer], release: threading.Event, clock: FakeClock
) -> None:
    """Both messages are due in the same tick, the slow inbox's first: the good inbox gets
    its copy while the call to the slow one is still in progress (the slow one stops
    dripping only once the good one got it, so no timing decides the order)."""
    events: list[str] = []
    evil, good = serve(dripping_inbox(release)), serve(recording_inbox(events, release))
    transport = RecordingTransport(events, timeout=HANG_GUARD)
    hub = make_hub(clock, transport)
    hub.registry.register("evil", "evil", ["x"], evil.url, reports_outcomes=True)
    hub.registry.register("good", "good", ["x"], good.url, reports_outcomes=True)
    tracker = DeliveryTracker(hub)
    for recipient in ("evil", "good"):  # accepted once each, never acknowledged
        message = envelope(clock, recipient)
        hub.messages.add(message, clock.time())
        tracker.delivered(message)
    clock.advance(6.0)  # past ack_timeout: both due

    async def main() -> None:
        try:
            await asyncio.wait_for(tracker.tick(), HANG_GUARD)
        finally:
            await transport.aclose()

    asyncio.run(main())
    assert events.index("good received") < events.index("evil call ended")
    assert sorted(events) == ["evil call ended", "good call ended", "good received"]
    assert tracker.pending() == 2  # both accepted: both wait for their outcomes


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_inbox_answer_of_64_mib_is_refused_without_being_read_whole(
    serve: Callable[[Asgi], ThreadServer], clock: FakeClock, declared: bool
) -> None:
    evil = serve(huge_inbox(declared))
    transport = HttpTransport(timeout=HANG_GUARD)
    hub = make_hub(clock, transport)
    info = hub.registry.register("evil", "evil", ["x"], evil.url)

    async def main() -> None:
        try:
            await transport.deliver_async(envelope(clock, "evil"), info)
        finally:
            await transport.aclose()

    with pytest.raises(DeliveryError) as raised:
        asyncio.run(main())
    assert raised.value.reason == "answer_too_large"
    assert "more than 4096 bytes" in str(raised.value)
    with pytest.raises(DeliveryError) as blocking:  # the blocking client reads the same way
        transport.deliver(envelope(clock, "evil"), info)
    transport.close()
    assert blocking.value.reason == "answer_too_large"
