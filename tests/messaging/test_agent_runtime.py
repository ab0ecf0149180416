"""One agent runtime: a third transport plugs in without the protocol knowing its type, and
one wire error table maps errors to HTTP and back."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from otel_agents.messaging import (
    AgentCommunicationProtocol,
    AgentMessage,
    DeliveryError,
    MessagePriority,
    MessageStatus,
    MessageType,
    PriorityMessageQueue,
    SecurityConfig,
    SecurityError,
)
from otel_agents.messaging._registry import AgentInfo
from otel_agents.messaging._transport import Transport
from otel_agents.messaging._wire import WIRE_ERRORS, from_wire, to_wire
from tests.messaging.conftest import FakeClock


class BrokerTransport(Transport):
    """A stand-in for a broker transport (say NATS): its own subscriptions, consumed here."""

    def __init__(self) -> None:
        self.subscriptions: dict[str, PriorityMessageQueue[AgentMessage]] = {}

    def deliver(self, message: AgentMessage, recipient: AgentInfo) -> None:
        self.subscriptions.setdefault(recipient.agent_id, PriorityMessageQueue(10)).put(
            message, message.priority
        )

    def queue(self, agent_id: str) -> PriorityMessageQueue[AgentMessage] | None:
        return self.subscriptions.setdefault(agent_id, PriorityMessageQueue(10))

    def discard(self, agent_id: str) -> list[AgentMessage]:
        found = self.subscriptions.pop(agent_id, None)
        return [] if found is None else found.drain()

    def depths(self) -> Iterable[tuple[str, MessagePriority, int]]:
        for agent_id, queue in self.subscriptions.items():
            for priority, count in queue.depth().items():
                yield agent_id, priority, count


def test_a_third_transport_delivers_queues_and_discards_through_the_protocol(
    make_comm: Any,
) -> None:
    """The protocol uses any transport's queue hooks: it checks no transport's type."""
    comm: AgentCommunicationProtocol = make_comm(transport=BrokerTransport())
    comm.register_agent("a", "A", ["x"], "nats://a")
    comm.register_agent("b", "B", ["x"], "nats://b")
    handled: list[Any] = []
    comm.register_handler("b", lambda message: handled.append(message.payload))
    comm.send_message("a", "b", MessageType.TASK_ASSIGNMENT, {"n": 1})
    assert comm.get_queue_size("b") == 1
    assert comm.process_next("b") is not None
    assert handled == [{"n": 1}]
    left = comm.send_message("a", "b", MessageType.TASK_ASSIGNMENT, {"n": 2})
    comm.unregister_agent("b")
    record = comm.get_message_status(left)
    assert (record.status, record.error_type) == (MessageStatus.FAILED, "recipient_unregistered")


@pytest.mark.parametrize(("kind", "status", "code"), WIRE_ERRORS)
def test_every_wire_error_goes_out_and_comes_back_as_its_class(
    kind: type[Exception], status: int, code: str
) -> None:
    sent_status, sent_code, detail = to_wire(kind("what went wrong"))
    assert (sent_status, sent_code, detail) == (status, code, "what went wrong")
    back = from_wire(sent_code, detail, sent_status)
    # Two classes share invalid_message; a client gets the first one listed with the code.
    first = next(k for k, _, c in WIRE_ERRORS if c == code)
    assert type(back) is first


def test_security_and_delivery_errors_keep_their_reason_on_the_wire() -> None:
    assert to_wire(SecurityError("no", reason="unauthorized"))[:2] == (401, "unauthorized")
    assert to_wire(SecurityError("no", reason="replayed"))[:2] == (403, "replayed")
    assert to_wire(DeliveryError("down", reason="recipient_unreachable"))[:2] == (
        502,
        "recipient_unreachable",
    )
    back = from_wire("replayed", "no", 403)
    assert isinstance(back, SecurityError)
    assert back.reason == "replayed"
    down = from_wire("recipient_unreachable", "down", 502)
    assert isinstance(down, DeliveryError)
    assert down.reason == "recipient_unreachable"
    assert from_wire(None, "teapot", 418).reason == "http_418"  # type: ignore[attr-defined]


def test_an_unexpected_error_is_a_500_that_names_only_its_type() -> None:
    assert to_wire(KeyError("secret internals")) == (500, "internal_error", "KeyError")


def test_signing_reads_the_same_clock_the_protocol_takes(clock: FakeClock) -> None:
    """SecurityConfig takes a Clock object too: a signature from an hour ago is stale."""
    signer = SecurityConfig(signing_key="k" * 32, clock=clock)
    headers = signer.sign("m-1", b"{}")
    clock.advance(3600.0)
    with pytest.raises(SecurityError) as caught:
        signer.verify(headers, b"{}", "m-1")
    assert caught.value.reason == "stale"
