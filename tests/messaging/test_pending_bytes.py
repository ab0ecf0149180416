"""The hub's pending deliveries are held as JSON text and bounded in bytes.

:class:`DeliveryTracker` on a protocol with a fake clock and the in-process transport: what
a pending message costs is its JSON (``pending_bytes``), counted once per message, released
when it is reported or dead-lettered, and ``admit`` refuses past ``max_pending_bytes``.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import pytest

from otel_agents.messaging import AgentCommunicationProtocol, AgentMessage, QueueFullError
from otel_agents.messaging._cli import _config, register
from otel_agents.messaging._config import read_config
from otel_agents.messaging._delivery import DeliveryTracker
from otel_agents.messaging._message import new_message
from otel_agents.messaging._records import Payloads
from otel_agents.messaging._registry import AgentInfo
from otel_agents.messaging._router import Planned
from tests.messaging.conftest import FakeClock

PAD = "x" * 2000


def setup(make_comm: Any, **config: Any) -> tuple[AgentCommunicationProtocol, DeliveryTracker]:
    comm: AgentCommunicationProtocol = make_comm(
        {"ack_timeout": 10, "retry_backoff": 1, "max_delivery_attempts": 2, **config}
    )
    comm.messages.payloads = Payloads.DIGEST  # as the hub's
    comm.registry.register("worker", "W", ["x"], "http://127.0.0.1:9", reports_outcomes=True)
    return comm, DeliveryTracker(comm)


def routed(comm: AgentCommunicationProtocol, clock: FakeClock) -> AgentMessage:
    message, _ = new_message(
        "boss", "worker", "request", {"pad": PAD}, "normal", now=clock.time(), timeout=1000
    )
    comm.messages.add(message, clock.time())
    return message


def worker(comm: AgentCommunicationProtocol) -> AgentInfo:
    found = comm.registry.lookup("worker")
    assert found is not None
    return found


def test_a_pending_message_costs_its_json_and_is_redelivered_whole(
    make_comm: Any, clock: FakeClock
) -> None:
    """The tracker holds the message's JSON (no parsed payload); the in-process transport's
    redelivery parses it back into the same message; dead-lettering it releases its bytes."""
    comm, tracker = setup(make_comm)
    message = routed(comm, clock)
    tracker.delivered(message)
    tracker.delivered(message)  # the same id again: counted once
    assert tracker.pending_bytes() == len(message.to_json())
    assert tracker.pending_bytes("boss") == tracker.pending_bytes("worker") > len(PAD)
    assert tracker.pending_bytes("nobody") == 0
    clock.advance(11)
    asyncio.run(tracker.tick())
    queue = comm.transport.queue("worker")
    assert queue is not None
    again = queue.get_nowait()
    assert again is not None
    assert again == message  # payload and headers intact
    clock.advance(11)
    asyncio.run(tracker.tick())  # max_delivery_attempts=2: dead-lettered
    assert [letter.message_id for letter in tracker.dead_letters()] == [message.message_id]
    assert (tracker.pending(), tracker.pending_bytes()) == (0, 0)


def test_a_report_releases_the_bytes_of_its_message(make_comm: Any, clock: FakeClock) -> None:
    comm, tracker = setup(make_comm)
    first, second = routed(comm, clock), routed(comm, clock)
    for message in (first, second):
        tracker.delivered(message)
    assert tracker.acknowledge(first.message_id, "worker", "processed", None)
    assert tracker.pending_bytes() == len(second.to_json())


def test_admit_refuses_past_max_pending_bytes_counting_the_request_ahead(
    make_comm: Any, clock: FakeClock
) -> None:
    """With room for two messages: one pending plus one admitted ahead in the same request
    fill it, and the next is refused naming the setting; the admission keeps each
    admitted message's JSON for the tracker."""
    size = len(routed(make_comm(), clock).to_json())
    comm, tracker = setup(make_comm, max_pending_bytes=2 * size + 10)
    tracker.delivered(routed(comm, clock))
    planned = Planned()
    ahead = routed(comm, clock)
    tracker.admit(worker(comm), ahead, planned)
    assert (planned.size, planned.wires) == (size, {ahead.message_id: ahead.to_json().encode()})
    planned.count, planned.by_recipient = 1, {"worker": 1}
    with pytest.raises(QueueFullError, match=rf"max_pending_bytes={2 * size + 10}\)") as refused:
        tracker.admit(worker(comm), routed(comm, clock), planned)
    assert f"the hub holds {2 * size} bytes" in str(refused.value)
    assert "retry later, or raise max_pending_bytes" in str(refused.value)


def test_a_message_larger_than_max_pending_bytes_says_to_raise_it_above_max_message_size(
    make_comm: Any, clock: FakeClock
) -> None:
    comm, tracker = setup(make_comm, max_pending_bytes=1024)
    with pytest.raises(QueueFullError, match="raise max_pending_bytes above max_message_size"):
        tracker.admit(worker(comm), routed(comm, clock), Planned())


def test_messages_for_agents_that_do_not_report_cost_nothing(
    make_comm: Any, clock: FakeClock
) -> None:
    comm, tracker = setup(make_comm, max_pending_bytes=1024)
    comm.register_agent("legacy", "L", ["x"], "http://127.0.0.1:9")
    legacy = comm.registry.lookup("legacy")
    assert legacy is not None
    planned = Planned()
    tracker.admit(legacy, routed(comm, clock), planned)
    assert (planned.size, planned.wires) == (0, {})


def test_the_cli_flags_set_the_byte_limits_else_the_declared_defaults_apply() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    hub = _config(parser.parse_args(["hub", "--max-pending-bytes", "4096"]))
    assert read_config(hub)["max_pending_bytes"] == 4096
    assert read_config(_config(parser.parse_args(["hub"])))["max_pending_bytes"] == 64 * 2**20
    agent = _config(parser.parse_args(["agent", "--id", "b", "--max-queued-bytes", "2048"]))
    assert read_config(agent)["max_queued_bytes"] == 2048
    assert read_config(_config(parser.parse_args(["agent", "--id", "b"])))["max_queued_bytes"] == (
        16 * 2**20
    )
