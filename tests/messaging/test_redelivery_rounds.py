"""The hub's redelivery rounds, driven by a fake clock through an injected inbox transport.

A failed redelivery waits ``retry_backoff`` seconds, doubling with each further failure up
to 60 s, so an inbox that is down is not hammered; and a recipient's report that arrives
while a round is running settles its message for good: the round, which picked the message
as due before the report came, must not dead-letter it afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from otel_agents import semconv as sc
from otel_agents.messaging import AgentCommunicationProtocol, AgentMessage, MessageStatus
from otel_agents.messaging._delivery import MAX_BACKOFF, DeliveryTracker
from otel_agents.messaging._errors import DeliveryError
from otel_agents.messaging._message import new_message
from otel_agents.messaging._registry import AgentInfo
from otel_agents.messaging._transport import Transport
from otel_agents.testing import TelemetryCapture
from tests.messaging.conftest import FakeClock

ACK_TIMEOUT = 10.0


class ScriptedInbox(Transport):
    """An inbox that records when each delivery came, calls ``on_delivery`` first (what the
    recipient does meanwhile) and then accepts or, while ``down``, refuses it."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.down = False
        self.calls: list[tuple[str, float]] = []
        self.on_delivery: Callable[[AgentMessage], None] = lambda message: None

    def deliver(self, message: AgentMessage, recipient: AgentInfo) -> None:
        raise AssertionError("the hub redelivers asynchronously")

    async def deliver_async(self, message: AgentMessage, recipient: AgentInfo) -> None:
        self.calls.append((message.message_id, self.clock.monotonic()))
        self.on_delivery(message)
        await asyncio.sleep(0)  # the network: other redeliveries of the round run meanwhile
        if self.down:
            raise DeliveryError("the inbox is down")


def _hub(
    make_comm: Any, clock: FakeClock, **config: Any
) -> tuple[AgentCommunicationProtocol, DeliveryTracker, ScriptedInbox]:
    inbox = ScriptedInbox(clock)
    comm: AgentCommunicationProtocol = make_comm(
        {"ack_timeout": ACK_TIMEOUT, "retry_backoff": 1, "max_delivery_attempts": 3, **config},
        transport=inbox,
    )
    comm.registry.register("worker", "W", ["x"], "http://127.0.0.1:9", reports_outcomes=True)
    return comm, DeliveryTracker(comm), inbox


def _delivered(
    comm: AgentCommunicationProtocol,
    tracker: DeliveryTracker,
    clock: FakeClock,
    timeout: float = 10_000,
) -> AgentMessage:
    """A message the worker's inbox accepted (its first attempt), now waiting for a report."""
    message, _ = new_message(
        "boss", "worker", "request", {}, "normal", now=clock.time(), timeout=timeout
    )
    comm.messages.add(message, clock.time())
    tracker.delivered(message)
    return message


def _run_rounds(tracker: DeliveryTracker, clock: FakeClock, seconds: float) -> None:
    """One redelivery round per fake half second, for ``seconds``."""

    async def rounds() -> None:
        for _ in range(int(seconds * 2)):
            clock.advance(0.5)
            await tracker.tick()

    asyncio.run(rounds())


def _status(comm: AgentCommunicationProtocol, message: AgentMessage) -> MessageStatus:
    record = comm.messages.get(message.message_id)
    assert record is not None
    return record.status


def test_failed_redeliveries_wait_retry_backoff_doubling_each_time(
    make_comm: Any, clock: FakeClock
) -> None:
    comm, tracker, inbox = _hub(make_comm, clock, retry_backoff=2, max_delivery_attempts=6)
    inbox.down = True
    start = clock.monotonic()
    _delivered(comm, tracker, clock)

    _run_rounds(tracker, clock, ACK_TIMEOUT + 2 + 4 + 8 + 16 + 1)

    times = [at - start for _, at in inbox.calls]
    assert times[0] == ACK_TIMEOUT  # no report: delivered again once ack_timeout is over
    assert [b - a for a, b in pairwise(times)] == [2, 4, 8, 16]


def test_the_redelivery_backoff_stops_doubling_at_60_seconds(
    make_comm: Any, clock: FakeClock
) -> None:
    comm, tracker, inbox = _hub(make_comm, clock, retry_backoff=16, max_delivery_attempts=8)
    inbox.down = True
    _delivered(comm, tracker, clock)

    _run_rounds(tracker, clock, ACK_TIMEOUT + 16 + 32 + MAX_BACKOFF * 2 + 1)

    times = [at for _, at in inbox.calls]
    assert [b - a for a, b in pairwise(times)] == [
        16,
        32,
        MAX_BACKOFF,
        MAX_BACKOFF,
    ]


def test_a_report_arriving_during_a_redelivery_round_keeps_its_message_processed(
    make_comm: Any, clock: FakeClock
) -> None:
    """The round takes both messages as due; while it redelivers the first, the worker
    reports the second processed, just before the round would bury it as expired."""
    comm, tracker, inbox = _hub(make_comm, clock)
    first = _delivered(comm, tracker, clock)
    second = _delivered(comm, tracker, clock, timeout=ACK_TIMEOUT / 2)
    expired = _delivered(comm, tracker, clock, timeout=ACK_TIMEOUT / 2)  # never reported

    def worker_reports_second(message: AgentMessage) -> None:
        if message.message_id == first.message_id:
            assert tracker.acknowledge(second.message_id, "worker", "processed", None)

    inbox.on_delivery = worker_reports_second
    clock.advance(ACK_TIMEOUT + 1)
    asyncio.run(tracker.tick())

    assert [message_id for message_id, _ in inbox.calls] == [first.message_id]
    assert _status(comm, second) is MessageStatus.PROCESSED
    assert [letter.message_id for letter in tracker.dead_letters()] == [expired.message_id]
    assert _status(comm, expired) is MessageStatus.DEAD_LETTERED
    assert tracker.pending() == 1  # the first, redelivered, waits for its report again


def _redelivered(telemetry: TelemetryCapture) -> float:
    return sum(p.value for p in telemetry.points(sc.AGENT_MESSAGE_REDELIVERED.name))


def test_a_message_reported_during_a_round_is_not_redelivered_nor_counted(
    make_comm: Any, clock: FakeClock, telemetry: TelemetryCapture
) -> None:
    """The round takes all three as due; while it redelivers the first, the worker reports
    the third processed: the round redelivers and counts the first two only."""
    comm, tracker, inbox = _hub(make_comm, clock)
    first, second, third = (_delivered(comm, tracker, clock) for _ in range(3))

    def worker_reports_third(message: AgentMessage) -> None:
        if message.message_id == first.message_id:
            assert tracker.acknowledge(third.message_id, "worker", "processed", None)

    inbox.on_delivery = worker_reports_third
    clock.advance(ACK_TIMEOUT + 1)
    asyncio.run(tracker.tick())

    assert [message_id for message_id, _ in inbox.calls] == [first.message_id, second.message_id]
    assert _redelivered(telemetry) == 2
    assert _status(comm, third) is MessageStatus.PROCESSED
    assert tracker.pending() == 2
    assert tracker.pending_bytes() == len(first.to_wire()) + len(second.to_wire())


def test_a_message_resent_during_a_round_stays_pending_not_dead_lettered(
    make_comm: Any, clock: FakeClock, telemetry: TelemetryCapture
) -> None:
    """The round takes the second as due for the dead-letter store (its last attempt was
    made); while it redelivers the first, the sender resends the second and its inbox
    accepts it: that fresh delivery waits for its report, with its own attempts."""
    comm, tracker, inbox = _hub(make_comm, clock)
    first, second = (_delivered(comm, tracker, clock) for _ in range(2))
    tracker._pending[second.message_id].attempts = 3  # max_delivery_attempts: all made

    def sender_resends_second(message: AgentMessage) -> None:
        if message.message_id == first.message_id:
            tracker.delivered(second)  # the hub delivered the resent message afresh

    inbox.on_delivery = sender_resends_second
    clock.advance(ACK_TIMEOUT + 1)
    asyncio.run(tracker.tick())

    assert tracker.dead_letters() == []
    assert sc.AGENT_MESSAGE_DEAD_LETTERED.name not in telemetry.metrics()
    assert _status(comm, second) is MessageStatus.DELIVERED
    assert tracker.pending() == 2
    assert tracker._pending[second.message_id].attempts == 1
    assert tracker.pending_bytes() == len(first.to_wire()) + len(second.to_wire())
    assert _redelivered(telemetry) == 1  # the first only
