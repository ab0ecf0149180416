"""The hub takes outcome reports for what it waits on, whatever its bounded history kept:
a report is checked against the pending message first, the history only after."""

from __future__ import annotations

import asyncio
from typing import Any

from otel_agents.messaging import AgentCommunicationProtocol, AgentMessage
from otel_agents.messaging._delivery import DeliveryTracker
from otel_agents.messaging._message import new_message
from otel_agents.messaging._router import Router
from tests.messaging.conftest import FakeClock


def hub(make_comm: Any, **config: Any) -> tuple[AgentCommunicationProtocol, DeliveryTracker]:
    comm: AgentCommunicationProtocol = make_comm(
        {"ack_timeout": 5, "retry_backoff": 1, "max_delivery_attempts": 3, **config}
    )
    comm.registry.register("boss", "B", ["x"], "http://127.0.0.1:9", reports_outcomes=True)
    comm.registry.register("worker", "W", ["x"], "http://127.0.0.1:9", reports_outcomes=True)
    return comm, DeliveryTracker(comm)


def messages(clock: FakeClock, count: int) -> list[AgentMessage]:
    made = [
        new_message("boss", "worker", "request", {"i": i}, "normal", now=clock.time(), timeout=1e4)
        for i in range(count)
    ]
    return [message for message, _ in made]


def test_reports_are_taken_for_pending_messages_the_history_dropped(
    make_comm: Any, clock: FakeClock
) -> None:
    """History 3, 5 messages all reported processed: every report taken, no redelivery and
    no dead letter (before, the first two were redelivered and dead-lettered ``no_ack``)."""
    comm, tracker = hub(make_comm, max_message_history=3)
    sent = messages(clock, 5)
    asyncio.run(Router(comm, tracker.delivered).route(sent))
    assert comm.get_queue_size("worker") == 5  # delivered once each (in-process transport)
    assert comm.messages.get(sent[0].message_id) is None  # its record was dropped
    assert tracker.pending() == 5
    taken = [tracker.acknowledge(m.message_id, "worker", "processed", None) for m in sent]
    assert taken == [True] * 5
    assert tracker.pending() == 0
    for _ in range(4):
        clock.advance(61)
        asyncio.run(tracker.tick())
    assert comm.get_queue_size("worker") == 5  # nothing delivered again
    assert tracker.dead_letters() == []


def test_only_the_recipient_may_report_on_a_pending_message_the_history_dropped(
    make_comm: Any, clock: FakeClock
) -> None:
    comm, tracker = hub(make_comm, max_message_history=1)
    first, second = messages(clock, 2)
    asyncio.run(Router(comm, tracker.delivered).route([first, second]))
    assert comm.messages.get(first.message_id) is None
    assert not tracker.acknowledge(first.message_id, "boss", "processed", None)
    assert not tracker.acknowledge(first.message_id, "worker", "done-ish", None)
    assert not tracker.acknowledge("never-routed", "worker", "processed", None)
    assert tracker.pending() == 2
    assert tracker.acknowledge(first.message_id, "worker", "processed", None)
    assert tracker.pending() == 1
    assert tracker.acknowledge(second.message_id, None, "failed", "ValueError")  # secret only
    assert tracker.pending() == 0


def test_a_late_report_clears_a_dead_letter_whose_record_the_history_dropped(
    make_comm: Any, clock: FakeClock
) -> None:
    comm, tracker = hub(make_comm, max_message_history=1)
    first, second = messages(clock, 2)
    asyncio.run(Router(comm, tracker.delivered).route([first, second]))
    comm.unregister_agent("worker")
    clock.advance(6)
    asyncio.run(tracker.tick())
    assert {letter.message_id for letter in tracker.dead_letters()} == {
        first.message_id,
        second.message_id,
    }
    assert not tracker.acknowledge(first.message_id, "boss", "processed", None)
    assert tracker.acknowledge(first.message_id, "worker", "processed", None)
    assert [letter.message_id for letter in tracker.dead_letters()] == [second.message_id]
