"""``send_message_async``: the coroutine twin of ``send_message``, same records and spans."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from opentelemetry.trace import SpanKind

from otel_agents import semconv as sc
from otel_agents.messaging import (
    AgentCommunicationProtocol,
    DeliveryError,
    MessageStatus,
    MessageType,
    Transport,
)
from otel_agents.messaging._message import AgentMessage
from otel_agents.messaging._registry import AgentInfo
from otel_agents.testing import TelemetryCapture


def test_an_async_send_is_queued_traced_and_counted(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture
) -> None:
    message_id = asyncio.run(
        comm.send_message_async("coordinator", "analyst", MessageType.REQUEST, {"q": 1})
    )
    assert comm.get_message_status(message_id).status is MessageStatus.QUEUED
    (span,) = telemetry.spans("send analyst")
    assert span.kind is SpanKind.PRODUCER
    (point,) = telemetry.points(sc.MESSAGING_CLIENT_SENT_MESSAGES.name)
    assert point.value == 1
    received = comm.process_next("analyst")
    assert received is not None
    assert received.message_id == message_id


class _Refusing(Transport):
    def deliver(self, message: AgentMessage, recipient: AgentInfo) -> None:
        raise DeliveryError("no way", reason="refused_here")


def test_an_async_send_that_fails_is_recorded_failed(make_comm: Any) -> None:
    comm = make_comm(transport=_Refusing())
    comm.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    with pytest.raises(DeliveryError, match="no way"):
        asyncio.run(comm.send_message_async("boss", "worker", MessageType.REQUEST, {}))
    (record,) = comm.get_message_history()
    assert record.status is MessageStatus.FAILED
    assert record.error_type == "refused_here"
