"""``send_message_async`` over NATS: many publications in flight, each confirmed by the
broker through one acknowledgement subscription (``_nats_publish``), on a real nats-server.

Each send still gets its PRODUCER span and its record; the broker's outage makes senders
wait (then deliver) or fail within ``broker_timeout``; nothing is lost or doubled.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.trace import SpanKind

from otel_agents import semconv as sc
from otel_agents.messaging import (
    AgentCommunicationProtocol,
    DeliveryError,
    MessagePriority,
    MessageStatus,
    MessageType,
)
from otel_agents.testing import TelemetryCapture
from tests._nats import NatsServer

pytestmark = pytest.mark.integration

Make = Callable[..., AgentCommunicationProtocol]
DEADLINE = 30.0


def _send_all(comm: AgentCommunicationProtocol, n: int, in_flight: int) -> list[str]:
    async def run() -> list[str]:
        left, ids = [n], []

        async def worker() -> None:
            while left[0] > 0:
                left[0] -= 1
                ids.append(
                    await comm.send_message_async("boss", "worker", MessageType.REQUEST, {"n": 1})
                )

        await asyncio.gather(*(worker() for _ in range(in_flight)))
        return ids

    return asyncio.run(run())


def _process_all(comm: AgentCommunicationProtocol, expected: set[str]) -> Counter[str]:
    """Process ``worker``'s messages until every one of ``expected`` was, within the deadline."""
    done: Counter[str] = Counter()
    deadline = time.monotonic() + DEADLINE
    while not expected <= set(done) and time.monotonic() < deadline:
        message = comm.process_next("worker")
        if message is None:
            time.sleep(0.02)
        else:
            done[message.message_id] += 1
    return done


def test_async_sends_in_flight_are_each_delivered_once_and_traced(
    make_nats_comm: Make, telemetry: TelemetryCapture
) -> None:
    comm = make_nats_comm()
    comm.register_agent("worker", "Worker", ["work"], "nats-agent://worker")
    ids = _send_all(comm, 300, 32)
    assert len(set(ids)) == 300
    done = _process_all(comm, set(ids))
    assert {m: done[m] for m in ids} == dict.fromkeys(ids, 1)
    sends = telemetry.spans("send worker")
    assert len(sends) == 300
    assert all(span.kind is SpanKind.PRODUCER for span in sends)
    assert {(span.attributes or {})[sc.MESSAGING_MESSAGE_ID] for span in sends} == set(ids)
    assert all((span.attributes or {})[sc.MESSAGING_SYSTEM] == "nats" for span in sends)
    by_id = {(s.attributes or {})[sc.MESSAGING_MESSAGE_ID]: s for s in sends}
    for process in telemetry.spans("process worker"):
        send = by_id[(process.attributes or {})[sc.MESSAGING_MESSAGE_ID]]
        assert process.parent is not None
        assert process.parent.span_id == send.context.span_id  # one trace, send -> process
    assert all(comm.get_message_status(m).status is MessageStatus.PROCESSED for m in ids[:20])


def test_async_senders_wait_out_a_broker_restart_and_lose_or_double_nothing(
    make_nats_comm: Make, nats: NatsServer
) -> None:
    comm = make_nats_comm({"broker_timeout": 20.0})
    comm.register_agent("worker", "Worker", ["work"], "nats-agent://worker")
    sent: list[str] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            for _ in range(6):
                sent.extend(_send_all(comm, 50, 16))
                time.sleep(0.1)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    deadline = time.monotonic() + DEADLINE
    while len(sent) < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    nats.restart(down_for=0.5)  # longer than the client's 0.5 s between reconnects
    thread.join(timeout=DEADLINE)
    assert not thread.is_alive()
    assert errors == []
    assert len(sent) == 300
    done = _process_all(comm, set(sent))
    assert sorted(done[m] for m in sent) == [1] * 300


def test_an_async_send_to_a_stopped_broker_fails_within_broker_timeout(
    make_nats_comm: Make, nats: NatsServer, telemetry: TelemetryCapture
) -> None:
    comm = make_nats_comm({"broker_timeout": 0.5})
    comm.register_agent("worker", "Worker", ["work"], "nats-agent://worker")
    nats.stop()
    started = time.monotonic()
    with pytest.raises(DeliveryError) as raised:
        _send_all(comm, 1, 1)
    assert raised.value.reason == "broker_unreachable"
    assert time.monotonic() - started < DEADLINE  # bounded, never a hang
    (send,) = telemetry.spans("send worker")
    attributes: dict[str, Any] = dict(send.attributes or {})
    assert attributes[sc.ERROR_TYPE] == "broker_unreachable"
    (record,) = comm.get_message_history()
    assert record.status is MessageStatus.FAILED


def test_a_publication_the_broker_refuses_fails_at_once_without_retrying(
    make_nats_comm: Make,
) -> None:
    """A 4xx answer (here: the stream the publication expects is not the one that holds its
    subject) is final: ``broker_refused``, well before ``broker_timeout``."""
    comm = make_nats_comm({"broker_timeout": 20.0})
    comm.register_agent("worker", "Worker", ["work"], "nats-agent://worker")
    transport: Any = comm.transport
    subject = transport.names.subject("worker", MessagePriority.NORMAL)
    headers = {"Nats-Msg-Id": "refused-1", "Nats-Expected-Stream": "NOT_THIS_ONE"}

    async def publish() -> None:
        await transport.publisher.publish(subject, b"{}", headers)

    started = time.monotonic()
    with pytest.raises(DeliveryError) as raised:
        asyncio.run(publish())
    assert raised.value.reason == "broker_refused"
    assert time.monotonic() - started < 10.0  # not retried until broker_timeout (20 s)
