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


def test_async_sends_and_broadcasts_stay_in_the_current_conversation(
    comm: AgentCommunicationProtocol,
) -> None:
    """Like ``send_message``: inside a conversation (here ``genai.invoke_agent``), the async
    send and a broadcast carry its id unless the sender names another."""
    from otel_agents import genai

    comm.register_agent("planner", "Planner", ["planning"], "http://localhost:8003")

    async def work() -> tuple[str, str, list[str]]:
        async with genai.invoke_agent("Coordinator", conversation_id="conv-7"):
            inherited = await comm.send_message_async("boss", "analyst", MessageType.REQUEST, {})
            named = await comm.send_message_async(
                "boss", "analyst", MessageType.REQUEST, {}, conversation_id="other"
            )
            copies = comm.broadcast_message("boss", MessageType.STATUS_UPDATE, {})
        return inherited, named, copies

    inherited, named, copies = asyncio.run(work())
    assert comm.get_message_status(inherited).message.conversation_id == "conv-7"
    assert comm.get_message_status(named).message.conversation_id == "other"
    assert {comm.get_message_status(c).message.conversation_id for c in copies} == {"conv-7"}
