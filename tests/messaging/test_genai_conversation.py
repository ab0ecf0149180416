"""A GenAI conversation crosses agents over HTTP: the message carries its id through the hub
(in-process ASGI, the wire format), the recipient's model calls land in it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from otel_agents import genai, semconv as sc
from otel_agents.genai import GenAITelemetry
from otel_agents.genai._telemetry import reset_default_telemetry
from otel_agents.messaging import AgentMessage, MessageType
from otel_agents.testing import TelemetryCapture
from tests.messaging.helpers import Net


@pytest.fixture
def recorder(telemetry: TelemetryCapture) -> Iterator[GenAITelemetry]:
    made = GenAITelemetry(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    reset_default_telemetry(made)
    try:
        yield made
    finally:
        reset_default_telemetry(None)


def test_the_conversation_travels_with_the_message_over_http(
    net: Net, telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    received: list[str | None] = []

    @net.agents["agent-b"].on(MessageType.REQUEST)
    async def answer(message: AgentMessage) -> None:
        received.append(message.conversation_id)
        async with genai.model_call("unpriced-model", provider="acme") as call:
            call.set_usage(40, 2)

    async def scenario() -> None:
        await net.register("agent-a", "agent-b")
        async with genai.invoke_agent("A", agent_id="agent-a", conversation_id="conv-http"):
            await net.agents["agent-a"].send_message("agent-b", MessageType.REQUEST, {"q": 1})
        await net.agents["agent-b"].process_next()

    asyncio.run(scenario())
    assert received == ["conv-http"]
    chat = telemetry.span("chat unpriced-model")
    assert (chat.attributes or {})[sc.GEN_AI_CONVERSATION_ID] == "conv-http"
    assert (chat.attributes or {})[sc.GEN_AI_AGENT_ID] == "agent-b"
    assert recorder.conversations.total("conv-http") == (0.0, 42)
