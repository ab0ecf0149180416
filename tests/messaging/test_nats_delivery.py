"""Delivery you can trust on a real nats-server: ack after success, redelivery with backoff,
dead letters, duplicates suppressed, hostile envelopes rejected and never redelivered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from otel_agents import semconv as sc
from otel_agents.messaging import (
    AgentCommunicationProtocol,
    AgentMessage,
    MessagePriority,
    MessageStatus,
    MessageType,
    NatsTransport,
    SecurityConfig,
)
from otel_agents.testing import TelemetryCapture
from tests._nats import NatsServer, publish_raw
from tests._waits import eventually
from tests.messaging.conftest import FakeClock

pytestmark = pytest.mark.integration

Make = Callable[..., AgentCommunicationProtocol]
DEADLINE = 20.0
KEY = "test-signing-key-0123456789"


def _transport(comm: AgentCommunicationProtocol) -> NatsTransport:
    assert isinstance(comm.transport, NatsTransport)
    return comm.transport


def test_a_poison_message_is_dead_lettered_after_n_attempts_without_blocking_others(
    make_nats_comm: Make, telemetry: TelemetryCapture
) -> None:
    comm = make_nats_comm({"max_delivery_attempts": 3, "retry_backoff": 0.1})
    comm.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    handled: list[Any] = []

    def handler(message: AgentMessage) -> None:
        if message.payload.get("poison"):
            raise ValueError("cannot digest this")
        handled.append(message.payload["n"])

    comm.register_handler("worker", handler)
    poison = comm.send_message("boss", "worker", MessageType.REQUEST, {"poison": True})
    good = [comm.send_message("boss", "worker", MessageType.REQUEST, {"n": n}) for n in range(3)]

    first = comm.process_next("worker")
    assert first is not None
    assert first.message_id == poison
    assert comm.get_message_status(poison).status is MessageStatus.FAILED
    for _ in good:  # the queue behind the poison message moves on at once
        comm.process_next("worker")
    assert handled == [0, 1, 2]

    deadline = time.monotonic() + DEADLINE
    while comm.get_message_status(poison).status is not MessageStatus.DEAD_LETTERED:
        assert time.monotonic() < deadline, "the poison message was not dead-lettered"
        comm.process_next("worker")
        time.sleep(0.02)
    record = comm.get_message_status(poison)
    assert record.error_type == "ValueError"
    (letter,) = comm.get_dead_letters()
    assert (letter.message_id, letter.recipient_id, letter.attempts) == (poison, "worker", 3)
    assert letter.reason == "ValueError"
    assert comm.get_queue_size("worker") == 0
    redelivered = telemetry.points(sc.AGENT_MESSAGE_REDELIVERED.name)
    assert sum(p.value for p in redelivered) == 2
    assert redelivered[0].attributes[sc.MESSAGING_SYSTEM] == "nats"
    (dead,) = telemetry.points(sc.AGENT_MESSAGE_DEAD_LETTERED.name)
    assert dead.value == 1
    assert dead.attributes[sc.ERROR_TYPE] == "ValueError"
    spans = telemetry.spans("process worker")
    counts = [s.attributes[sc.AGENT_MESSAGE_DELIVERY_COUNT] for s in spans]
    assert sorted(counts) == [1, 1, 1, 1, 2, 3]


def test_a_message_published_twice_is_processed_once(make_nats_comm: Make) -> None:
    comm = make_nats_comm()
    info = comm.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    ran: list[str] = []
    comm.register_handler("worker", lambda message: ran.append(message.message_id))
    message_id = comm.send_message("boss", "worker", MessageType.REQUEST, {"x": 1})
    record = comm.get_message_status(message_id)
    comm.transport.deliver(record.message, info)  # a retry after a lost PubAck: same id
    assert comm.get_queue_size("worker") == 1  # the broker kept one copy (Nats-Msg-Id)
    assert comm.process_pending("worker") == 1
    assert ran == [message_id]


def test_an_envelope_seen_again_under_another_nats_id_is_not_processed_again(
    make_nats_comm: Make, nats: NatsServer
) -> None:
    """Idempotent processing: the message id, not the broker's, decides."""
    comm = make_nats_comm()
    comm.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    ran: list[str] = []
    comm.register_handler("worker", lambda message: ran.append(message.message_id))
    message_id = comm.send_message("boss", "worker", MessageType.REQUEST, {"x": 1})
    assert comm.process_next("worker") is not None
    body = comm.get_message_status(message_id).message.to_json().encode()
    subject = _transport(comm).names.subject("worker", MessagePriority.NORMAL)
    publish_raw(nats.url, subject, body, {"Nats-Msg-Id": "another-id"})
    assert comm.process_next("worker") is None
    assert ran == [message_id]
    assert comm.get_queue_size("worker") == 0  # acknowledged, not left to redeliver


@pytest.mark.parametrize(
    ("reason", "make_body"),
    [
        ("invalid_message", lambda message: b"{not json"),
        ("too_large", lambda message: b"x" * 3000),
        ("unsigned", lambda message: message.to_json().encode()),
    ],
)
def test_a_bad_envelope_is_rejected_counted_and_never_redelivered(
    make_nats_comm: Make,
    nats: NatsServer,
    telemetry: TelemetryCapture,
    reason: str,
    make_body: Callable[[AgentMessage], bytes],
) -> None:
    security = SecurityConfig(signing_key=KEY)
    comm = make_nats_comm(
        {"max_message_size": 2048, "ack_timeout": 0.5},
        transport=NatsTransport(nats.url, security=security),
    )
    comm.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    template = AgentMessage(
        "m-1", MessageType.REQUEST, MessagePriority.NORMAL, "x", "worker", {}, 0
    )
    subject = _transport(comm).names.subject("worker", MessagePriority.NORMAL)
    publish_raw(nats.url, subject, make_body(template), {"Nats-Msg-Id": "bad-1"})

    # Taken and rejected: no handler runs (on a loaded machine the broker's answer to the
    # first pull may come late, so the worker keeps asking, and is never handed the envelope).
    # Settled: the broker holds nothing undelivered or unacknowledged for the worker, so no
    # copy can come back (JetStream redelivers only what is unacknowledged).
    def settled() -> bool:
        assert comm.process_next("worker") is None
        return comm.get_queue_size("worker") == 0

    eventually(settled, "the rejected envelope settled", DEADLINE)
    assert comm.process_next("worker") is None
    (point,) = telemetry.points(sc.AGENT_MESSAGE_REJECTED.name)
    assert (point.value, point.attributes[sc.ERROR_TYPE]) == (1, reason)


def test_a_replayed_signed_envelope_is_rejected(
    make_nats_comm: Make, nats: NatsServer, telemetry: TelemetryCapture
) -> None:
    security = SecurityConfig(signing_key=KEY)
    comm = make_nats_comm(transport=NatsTransport(nats.url, security=security))
    comm.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    ran: list[str] = []
    comm.register_handler("worker", lambda message: ran.append(message.message_id))
    message, _ = comm.envelope("boss", "worker", MessageType.REQUEST, {"x": 1}, "normal")
    body = message.to_json().encode()
    headers = security.sign(message.message_id, body)
    subject = _transport(comm).names.subject("worker", MessagePriority.NORMAL)
    publish_raw(nats.url, subject, body, {**headers, "Nats-Msg-Id": "first"})
    publish_raw(nats.url, subject, body, {**headers, "Nats-Msg-Id": "replay"})

    assert comm.process_pending("worker") == 1
    assert ran == [message.message_id]
    assert comm.get_queue_size("worker") == 0
    (point,) = telemetry.points(sc.AGENT_MESSAGE_REJECTED.name)
    assert (point.value, point.attributes[sc.ERROR_TYPE]) == (1, "replayed")


def test_a_signed_message_that_waited_longer_than_the_replay_window_is_still_processed(
    make_nats_comm: Make, nats: NatsServer
) -> None:
    """A durable queue may hold a message longer than the window (its agent was down): the
    signature is judged at the broker's store time, so the wait loses nothing."""
    # The security clock signs and judges: it stands still while the message is signed and
    # stored (a window of 30 s, however slow the machine), then moves past the window before
    # anyone takes it. A 0.5 s window with a 0.75 s sleep failed when sending took 0.5 s.
    clock = FakeClock(start=time.time())
    security = SecurityConfig(signing_key=KEY, replay_window=30.0, clock=clock)
    comm = make_nats_comm(
        {"message_timeout": 600.0}, transport=NatsTransport(nats.url, security=security)
    )
    comm.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    message_id = comm.send_message("boss", "worker", MessageType.REQUEST, {"x": 1})
    clock.advance(60.0)  # longer than the replay window before anyone takes it
    received = comm.process_next("worker")
    assert received is not None
    assert received.message_id == message_id
    assert comm.get_message_status(message_id).status is MessageStatus.PROCESSED


def test_an_old_envelope_published_again_later_is_stale(
    make_nats_comm: Make, nats: NatsServer, telemetry: TelemetryCapture
) -> None:
    """What must be fresh is the signature when the broker stored the message: a captured
    envelope published again after the window is stored anew, and rejected."""
    clock = [time.time() - 5.0]
    signer = SecurityConfig(signing_key=KEY, replay_window=1.0, clock=lambda: clock[0])
    security = SecurityConfig(signing_key=KEY, replay_window=1.0)
    comm = make_nats_comm(transport=NatsTransport(nats.url, security=security))
    comm.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    message, _ = comm.envelope("boss", "worker", MessageType.REQUEST, {"x": 1}, "normal")
    body = message.to_json().encode()
    subject = _transport(comm).names.subject("worker", MessagePriority.NORMAL)
    publish_raw(
        nats.url, subject, body, {**signer.sign(message.message_id, body), "Nats-Msg-Id": "old"}
    )

    assert comm.process_next("worker") is None
    (point,) = telemetry.points(sc.AGENT_MESSAGE_REJECTED.name)
    assert (point.value, point.attributes[sc.ERROR_TYPE]) == (1, "stale")


def test_signed_messages_between_protocols_are_accepted(make_nats_comm: Make, nats: Any) -> None:
    security = SecurityConfig(signing_key=KEY)
    receiver = make_nats_comm(transport=NatsTransport(nats.url, security=security))
    sender = make_nats_comm(transport=NatsTransport(nats.url, security=security))
    receiver.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    deadline = time.monotonic() + DEADLINE
    while sender.registry.lookup("worker") is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    message_id = sender.send_message("boss", "worker", MessageType.REQUEST, {"x": 1})
    received = receiver.process_next("worker")
    assert received is not None
    assert received.message_id == message_id


def test_handlers_slower_than_the_ack_wait_still_process_each_message_once(
    make_nats_comm: Make, telemetry: TelemetryCapture
) -> None:
    comm = make_nats_comm({"ack_timeout": 0.3})
    comm.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    ran: list[str] = []

    def slow(message: AgentMessage) -> None:
        time.sleep(0.5)  # longer than ack_timeout: the broker redelivers meanwhile
        ran.append(message.message_id)

    comm.register_handler("worker", slow)
    sent = [comm.send_message("boss", "worker", MessageType.REQUEST, {"n": n}) for n in range(3)]

    async def serve() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(comm.serve("worker", stop))
        deadline = time.monotonic() + DEADLINE
        while len(ran) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # redelivered copies, if any, would be handled now
        stop.set()
        await task

    asyncio.run(serve())
    assert sorted(ran) == sorted(sent)
    assert comm.get_queue_size("worker") == 0
    assert all(comm.get_message_status(m).status is MessageStatus.PROCESSED for m in sent)
