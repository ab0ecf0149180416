"""Per-conversation rollup: one conversation's tokens and cost over every agent it touched."""

from __future__ import annotations

from typing import Any

import pytest

from otel_agents import genai, semconv as sc
from otel_agents.genai import GenAITelemetry
from otel_agents.genai._context import Attribution
from otel_agents.genai._rollup import OTHER_AGENT, ConversationTotals
from otel_agents.messaging import AgentCommunicationProtocol, AgentMessage, MessageType
from otel_agents.testing import TelemetryCapture


def _gauge(telemetry: TelemetryCapture, spec: sc.MetricSpec) -> dict[tuple[Any, Any], Any]:
    return {
        (p.attributes[sc.GEN_AI_CONVERSATION_ID], p.attributes[sc.GEN_AI_AGENT_ID]): p.value
        for p in telemetry.points(spec.name)
    }


def test_a_conversation_is_carried_from_agent_to_agent_and_summed(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    """The coordinator's conversation travels with its message; the worker's model call,
    made while processing it, lands in the same conversation, attributed to the worker."""
    comm = AgentCommunicationProtocol(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        comm.register_agent("coordinator", "Coordinator", ["planning"], "http://127.0.0.1:1")
        comm.register_agent("worker", "Worker", ["analysis"], "http://127.0.0.1:2")
        seen: list[str | None] = []

        def work(message: AgentMessage) -> None:
            seen.append(message.conversation_id)
            with (
                genai.invoke_agent("Worker", agent_id="worker"),
                genai.model_call("cheap", provider="openai") as call,
            ):
                call.set_usage(2_000_000, 0)  # $1.00

        comm.register_handler("worker", work)
        with genai.invoke_agent("Coordinator", agent_id="coordinator", conversation_id="req-42"):
            with genai.model_call("gpt-test", provider="openai") as call:
                call.set_usage(0, 125_000)  # $1.00
            comm.send_message("coordinator", "worker", MessageType.TASK_ASSIGNMENT, {"q": 1})
        comm.process_next("worker")
    finally:
        comm.stop()

    assert seen == ["req-42"]
    assert _gauge(telemetry, sc.AGENT_CONVERSATION_COST) == {
        ("req-42", "coordinator"): pytest.approx(1.0),
        ("req-42", "worker"): pytest.approx(1.0),
    }
    assert _gauge(telemetry, sc.AGENT_CONVERSATION_TOKENS) == {
        ("req-42", "coordinator"): 125_000,
        ("req-42", "worker"): 2_000_000,
    }
    worker = telemetry.span("invoke_agent Worker")
    coordinator = telemetry.span("invoke_agent Coordinator")
    process = telemetry.span("process worker")
    assert worker.context.trace_id == coordinator.context.trace_id
    assert worker.parent is not None
    assert worker.parent.span_id == process.context.span_id
    # At its end the worker's span carries the conversation's total so far in this process.
    assert (worker.attributes or {})[sc.AGENT_CONVERSATION_COST_ATTRIBUTE] == pytest.approx(2.0)
    assert (coordinator.attributes or {})[sc.AGENT_CONVERSATION_COST_ATTRIBUTE] == pytest.approx(
        1.0
    )
    assert (worker.attributes or {})[sc.GEN_AI_CONVERSATION_ID] == "req-42"


def test_model_calls_in_a_handler_are_attributed_to_the_recipient_without_invoke_agent(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    comm = AgentCommunicationProtocol(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        comm.register_agent("worker", "Worker", ["analysis"], "http://127.0.0.1:2")

        def work(message: AgentMessage) -> None:
            genai.record_model_call(
                model="cheap", provider="openai", input_tokens=10, output_tokens=1, duration_s=0.5
            )

        comm.register_handler("worker", work)
        comm.send_message("boss", "worker", MessageType.REQUEST, {}, conversation_id="c-9")
        comm.process_next("worker")
    finally:
        comm.stop()
    (calls,) = telemetry.points(sc.AGENT_MODEL_CALLS.name)
    assert calls.attributes[sc.GEN_AI_AGENT_ID] == "worker"
    assert _gauge(telemetry, sc.AGENT_CONVERSATION_TOKENS) == {("c-9", "worker"): 11}


def test_the_gauges_report_only_the_costliest_recent_conversations() -> None:
    totals = ConversationTotals(top=2, recent=3, agents_per_conversation=2)
    totals.add("cheap", "a", 0.01, 10)
    totals.add("dear", "a", 5.0, 10)
    totals.add("mid", "a", 1.0, 10)
    totals.add("newest", "a", 0.5, 10)  # evicts "cheap", the least recently updated
    assert len(totals) == 3
    assert {row[0] for row in totals.top_entries()} == {"dear", "mid"}
    for agent in ("b", "c", "d"):
        totals.add("dear", agent, 1.0, 1)
    agents = {row[1] for row in totals.top_entries() if row[0] == "dear"}
    assert agents == {"a", OTHER_AGENT}  # bounded per conversation too: at most 2 rows
    assert totals.total("dear") == (pytest.approx(8.0), 13)
    assert totals.total("cheap") == (0.0, 0)


@pytest.mark.parametrize("bad", ["", "c" * 257, "c" * 200_000])
def test_a_conversation_id_outside_1_to_256_characters_is_no_rollup_key(
    telemetry: TelemetryCapture, recorder: GenAITelemetry, bad: str
) -> None:
    """Whatever path an id took, it never becomes a key (memory) nor a gauge label; the
    call is still counted and priced."""
    cost = recorder.record_usage(
        model="gpt-test",
        provider="openai",
        input_tokens=1_000_000,
        output_tokens=0,
        finish_reasons=(),
        error_type=None,
        attribution=Attribution("planner", "Planner", bad),
    )
    assert cost == pytest.approx(2.0)
    recorder.conversations.add(bad, "planner", 1.0, 10)
    assert len(recorder.conversations) == 0
    assert recorder.conversations.total(bad) == (0.0, 0)
    assert sc.AGENT_CONVERSATION_COST.name not in telemetry.metrics()
    (calls,) = telemetry.points(sc.AGENT_MODEL_CALLS.name)
    assert calls.value == 1
