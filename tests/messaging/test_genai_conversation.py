"""A GenAI conversation crosses agents over HTTP: the message carries its id through the hub
(in-process ASGI, the wire format), the recipient's model calls land in it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from otel_agents import genai, semconv as sc
from otel_agents.genai import GenAITelemetry
from otel_agents.genai._telemetry import reset_default_telemetry
from otel_agents.messaging import AgentMessage, MessagePriority, MessageType
from otel_agents.testing import TelemetryCapture
from tests.messaging.helpers import SECRET, Net


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


def _envelope(conversation_id: str) -> AgentMessage:
    return AgentMessage(
        AgentMessage.new_id(),
        MessageType.REQUEST,
        MessagePriority.NORMAL,
        "agent-a",
        "agent-b",
        {},
        1_800_000_000.0,
        conversation_id=conversation_id,
    )


@pytest.mark.parametrize("conversation_id", ["", "c" * 257, "c" * 200_000])
def test_an_inbox_refuses_a_conversation_id_the_sending_side_would_refuse(
    net: Net, telemetry: TelemetryCapture, recorder: GenAITelemetry, conversation_id: str
) -> None:
    """A peer's id becomes a rollup key and a gauge label: on the wire it gets the sending
    side's bound (1-256 characters), so a 200,000-character id is a 400, never queued."""
    message = _envelope(conversation_id)
    body = message.to_json().encode()
    headers = {
        "authorization": f"Bearer {SECRET}",
        "content-type": "application/json",
        **net.security.sign(message.message_id, body),
    }

    async def post() -> tuple[int, dict[str, str]]:
        response = await net.client.post("http://agent-b/inbox", content=body, headers=headers)
        return response.status_code, response.json()

    status, answer = asyncio.run(post())
    assert status == 400, answer
    assert answer["error"] == "invalid_message"
    assert "conversation_id=" in answer["detail"]
    assert len(answer["detail"]) < 300  # the id is not echoed back whole
    assert len(net.agents["agent-b"].queue) == 0
    assert len(recorder.conversations) == 0


def test_a_bad_conversation_id_built_in_process_is_not_inherited(
    net: Net, telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    """A message built in code skips the wire check: its conversation id, if unusable, is
    dropped from the attribution, so it reaches no span, rollup key or gauge label."""
    agent = net.agents["agent-b"]

    @agent.on(MessageType.REQUEST)
    async def answer(message: AgentMessage) -> None:
        async with (
            genai.invoke_agent("B", agent_id="agent-b"),
            genai.model_call("unpriced-model", provider="acme") as call,
        ):
            call.set_usage(40, 2)

    async def scenario() -> None:
        for conversation_id in ("", "c" * 257):
            agent.accept(_envelope(conversation_id))
            await agent.process_next()

    asyncio.run(scenario())
    for name in ("invoke_agent B", "chat unpriced-model"):
        for span in telemetry.spans(name):
            assert sc.GEN_AI_CONVERSATION_ID not in (span.attributes or {}), name
    assert len(telemetry.spans("chat unpriced-model")) == 2
    assert len(recorder.conversations) == 0
    assert sc.AGENT_CONVERSATION_TOKENS.name not in telemetry.metrics()


@pytest.mark.parametrize("conversation_id", ["", "c" * 257])
def test_a_remote_agent_refuses_a_bad_conversation_id_before_sending(
    net: Net, telemetry: TelemetryCapture, recorder: GenAITelemetry, conversation_id: str
) -> None:
    """The same rule as ``send_message`` in process: an error naming the argument, and
    nothing sent or counted (not a round trip to a hub that refuses it)."""

    async def send() -> None:
        await net.register("agent-a", "agent-b")
        telemetry.span_exporter.clear()
        await net.agents["agent-a"].send_message(
            "agent-b", MessageType.REQUEST, {}, conversation_id=conversation_id
        )

    with pytest.raises(ValueError, match=r"conversation_id='c*('|\.\.\.) is not valid"):
        asyncio.run(send())
    assert telemetry.spans() == []
    assert len(net.agents["agent-b"].queue) == 0
