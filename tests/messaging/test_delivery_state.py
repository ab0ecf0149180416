"""The hub's delivery bookkeeping (:class:`DeliveryTracker`) on a protocol with a fake clock:
outcome reports, who may report, redelivery timing and the bounded dead-letter store."""

from __future__ import annotations

import asyncio
from typing import Any

from otel_agents.messaging import AgentCommunicationProtocol, AgentMessage, MessageStatus
from otel_agents.messaging._delivery import DeliveryTracker
from otel_agents.messaging._message import new_message
from otel_agents.testing import TelemetryCapture
from tests.messaging.conftest import FakeClock


def setup(make_comm: Any, clock: FakeClock, **config: Any) -> tuple[Any, DeliveryTracker]:
    comm: AgentCommunicationProtocol = make_comm(
        {"ack_timeout": 10, "retry_backoff": 1, "max_delivery_attempts": 3, **config}
    )
    comm.registry.register("worker", "W", ["x"], "http://127.0.0.1:9", reports_outcomes=True)
    return comm, DeliveryTracker(comm)


def routed(comm: AgentCommunicationProtocol, clock: FakeClock) -> AgentMessage:
    message, _ = new_message(
        "boss", "worker", "request", {}, "normal", now=clock.time(), timeout=1000
    )
    comm.messages.add(message, clock.time())
    return message


def status(comm: AgentCommunicationProtocol, message: AgentMessage) -> MessageStatus:
    record = comm.messages.get(message.message_id)
    assert record is not None
    return record.status


def test_a_report_that_beats_the_inboxs_202_is_not_overwritten(
    make_comm: Any, clock: FakeClock
) -> None:
    comm, tracker = setup(make_comm, clock)
    message = routed(comm, clock)
    assert tracker.acknowledge(message.message_id, "worker", "processed", None)
    tracker.delivered(message)  # the 202 arrives after the report
    assert status(comm, message) is MessageStatus.PROCESSED
    assert tracker.pending() == 0


def test_only_the_recipient_may_report_on_a_message(make_comm: Any, clock: FakeClock) -> None:
    comm, tracker = setup(make_comm, clock)
    message = routed(comm, clock)
    tracker.delivered(message)
    assert not tracker.acknowledge(message.message_id, "someone-else", "processed", None)
    assert not tracker.acknowledge(message.message_id, "worker", "done-ish", None)
    assert status(comm, message) is MessageStatus.DELIVERED
    assert tracker.acknowledge(message.message_id, "worker", "failed", "ValueError")
    record = comm.messages.get(message.message_id)
    assert record is not None
    assert (record.status, record.error_type) == (MessageStatus.FAILED, "ValueError")


def test_an_unacknowledged_message_is_redelivered_after_ack_timeout_only(
    make_comm: Any, clock: FakeClock
) -> None:
    comm, tracker = setup(make_comm, clock)
    message = routed(comm, clock)
    tracker.delivered(message)
    clock.advance(9)
    asyncio.run(tracker.tick())
    assert comm.get_queue_size("worker") == 0
    clock.advance(2)
    asyncio.run(tracker.tick())
    assert comm.get_queue_size("worker") == 1  # delivered again (in-process transport)
    assert tracker.pending() == 1


def test_the_dead_letter_store_is_bounded_and_counted(
    make_comm: Any, clock: FakeClock, telemetry: TelemetryCapture
) -> None:
    comm, tracker = setup(make_comm, clock, max_dead_letters=2)
    messages = [routed(comm, clock) for _ in range(5)]
    for message in messages:
        tracker.delivered(message)
    comm.unregister_agent("worker")
    clock.advance(11)
    asyncio.run(tracker.tick())
    letters = tracker.dead_letters()
    assert [letter.message_id for letter in letters] == [m.message_id for m in messages[3:]]
    assert {letter.reason for letter in letters} == {"recipient_unregistered"}
    assert tracker.dropped_dead_letters == 3
    assert all(status(comm, m) is MessageStatus.DEAD_LETTERED for m in messages)
    (point,) = telemetry.points("agent.message.dead_lettered")
    assert point.value == 5
    assert point.attributes == {
        "messaging.destination.name": "worker",
        "error.type": "recipient_unregistered",
    }


def test_an_agent_that_does_not_report_outcomes_is_delivered_to_once(
    make_comm: Any, clock: FakeClock
) -> None:
    comm, tracker = setup(make_comm, clock)
    comm.register_agent("legacy", "L", ["x"], "http://127.0.0.1:9")
    message, _ = new_message(
        "boss", "legacy", "request", {}, "normal", now=clock.time(), timeout=1000
    )
    comm.messages.add(message, clock.time())
    tracker.delivered(message)
    assert status(comm, message) is MessageStatus.DELIVERED
    clock.advance(100)
    asyncio.run(tracker.tick())
    assert tracker.pending() == 0
    assert comm.get_queue_size("legacy") == 0
    assert tracker.dead_letters() == []
