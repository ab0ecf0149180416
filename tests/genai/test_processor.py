"""GenAISpanProcessor with spans of another instrumentation: attribution, pricing, and bad
usage values logged and skipped, never raised into the model call."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.trace import Tracer
from opentelemetry.util.genai.handler import TelemetryHandler

from otel_agents import genai, semconv as sc
from otel_agents.genai import GenAISpanProcessor, GenAITelemetry
from otel_agents.testing import TelemetryCapture


@pytest.fixture
def tracer(telemetry: TelemetryCapture, recorder: GenAITelemetry) -> Tracer:
    """A tracer of some official instrumentation, with our processor on the provider."""
    telemetry.tracer_provider.add_span_processor(GenAISpanProcessor())
    return telemetry.tracer_provider.get_tracer("opentelemetry.instrumentation.someai")


def _chat(tracer: Tracer, **usage: Any) -> None:
    span = tracer.start_span(
        "chat gpt-test",
        attributes={
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_SYSTEM: "openai",  # the pre-1.37 spelling of the provider
            sc.GEN_AI_REQUEST_MODEL: "gpt-test",
        },
    )
    span.set_attributes(usage)
    span.end()


def test_usage_of_a_foreign_span_is_priced_with_the_older_provider_attribute(
    telemetry: TelemetryCapture, tracer: Tracer
) -> None:
    with genai.invoke_agent("a", agent_id="agent-a"):
        _chat(
            tracer,
            **{sc.GEN_AI_USAGE_INPUT_TOKENS: 1_000_000, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 0},
        )
    (cost,) = telemetry.points(sc.AGENT_MODEL_COST.name)
    assert cost.value == pytest.approx(2.0)
    assert cost.attributes[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert cost.attributes[sc.GEN_AI_AGENT_ID] == "agent-a"


@pytest.mark.parametrize("bad", [-1, 2.5, "12", True, 2**31, 2**64])
def test_bad_usage_logs_a_line_and_records_nothing(
    telemetry: TelemetryCapture, tracer: Tracer, caplog: pytest.LogCaptureFixture, bad: Any
) -> None:
    with caplog.at_level(logging.WARNING, logger="otel_agents.genai"):
        _chat(tracer, **{sc.GEN_AI_USAGE_INPUT_TOKENS: bad, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 1})
    assert any(sc.GEN_AI_USAGE_INPUT_TOKENS in r.getMessage() for r in caplog.records)
    assert sc.AGENT_MODEL_CALLS.name not in telemetry.metrics()
    assert sc.AGENT_MODEL_COST.name not in telemetry.metrics()
    assert len(telemetry.spans("chat gpt-test")) == 1  # the span itself is untouched


def test_huge_usage_from_a_server_is_warned_once_and_never_priced(
    telemetry: TelemetryCapture, tracer: Tracer, caplog: pytest.LogCaptureFixture
) -> None:
    """A server answering 10**15 tokens per response: no 7.5e9 USD, one warning, and the
    next sane response is counted."""
    with caplog.at_level(logging.WARNING, logger="otel_agents.genai"):
        for _ in range(3):
            _chat(
                tracer,
                **{sc.GEN_AI_USAGE_INPUT_TOKENS: 10**15, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 1},
            )
    assert len([r for r in caplog.records if "10000000000" in r.getMessage()]) == 1
    assert sc.AGENT_MODEL_COST.name not in telemetry.metrics()
    _chat(tracer, **{sc.GEN_AI_USAGE_INPUT_TOKENS: 1_000_000, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 0})
    (cost,) = telemetry.points(sc.AGENT_MODEL_COST.name)
    assert cost.value == pytest.approx(2.0)


def test_a_span_inside_our_call_takes_over_only_the_histograms_it_has_usage_for(
    telemetry: TelemetryCapture, tracer: Tracer
) -> None:
    """An openai-v2 span ends inside our model_call with input usage only: it recorded the
    duration and the input tokens, so our call records just the output tokens (and its calls
    and cost)."""
    openai_v2 = telemetry.tracer_provider.get_tracer("opentelemetry.instrumentation.openai_v2")
    with genai.model_call("gpt-test", provider="openai") as call:
        _chat(openai_v2, **{sc.GEN_AI_USAGE_INPUT_TOKENS: 1_000_000})
        call.set_usage(1_000_000, 5)
    assert sc.GEN_AI_CLIENT_OPERATION_DURATION.name not in telemetry.metrics()
    (usage,) = telemetry.points(sc.GEN_AI_CLIENT_TOKEN_USAGE.name)
    assert usage.attributes[sc.GEN_AI_TOKEN_TYPE] == "output"
    (calls,) = telemetry.points(sc.AGENT_MODEL_CALLS.name)
    assert calls.value == 1
    (cost,) = telemetry.points(sc.AGENT_MODEL_COST.name)
    assert cost.value == pytest.approx(2.0 + 5 * 8.0 / 1e6)


def test_spans_that_are_not_genai_are_left_alone(
    telemetry: TelemetryCapture, tracer: Tracer
) -> None:
    with genai.invoke_agent("a"):
        tracer.start_span("GET /", attributes={"http.request.method": "GET"}).end()
    assert sc.GEN_AI_AGENT_ID not in (telemetry.span("GET /").attributes or {})
    assert sc.AGENT_MODEL_CALLS.name not in telemetry.metrics()


def test_a_broken_recorder_never_raises_into_the_call(
    telemetry: TelemetryCapture,
    tracer: Tracer,
    recorder: GenAITelemetry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(**_: Any) -> float:
        raise RuntimeError("recorder down")

    monkeypatch.setattr(recorder, "record_usage", broken)
    with caplog.at_level(logging.ERROR, logger="otel_agents.genai"):
        _chat(tracer, **{sc.GEN_AI_USAGE_INPUT_TOKENS: 1, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 1})
    assert any("on_end" in r.getMessage() for r in caplog.records)


def test_a_sub_agent_of_util_genai_keeps_its_own_identity(
    telemetry: TelemetryCapture, tracer: Tracer
) -> None:
    """A framework's invoke_agent span inside ours is another agent: it gets neither our
    agent id nor our name; it works in the same conversation, so it carries that."""
    handler = TelemetryHandler(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    with (
        genai.invoke_agent("Planner", agent_id="planner", conversation_id="conv-1"),
        handler.invoke_local_agent(agent_name="writer"),
    ):
        pass
    writer = telemetry.span("invoke_agent writer").attributes or {}
    assert writer[sc.GEN_AI_AGENT_NAME] == "writer"
    assert sc.GEN_AI_AGENT_ID not in writer
    assert writer[sc.GEN_AI_CONVERSATION_ID] == "conv-1"


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        # Another agent's invocation or creation: never our identity. Creating an agent is
        # not a turn of a conversation (the conventions' create_agent span has no
        # gen_ai.conversation.id); invoking one inside ours is.
        (
            {sc.GEN_AI_OPERATION_NAME: sc.GEN_AI_OPERATION_INVOKE_AGENT},
            {sc.GEN_AI_CONVERSATION_ID: "conv-1"},
        ),
        (
            {
                sc.GEN_AI_OPERATION_NAME: sc.GEN_AI_OPERATION_INVOKE_AGENT,
                sc.GEN_AI_AGENT_ID: "asst_1",
            },
            {sc.GEN_AI_AGENT_ID: "asst_1", sc.GEN_AI_CONVERSATION_ID: "conv-1"},
        ),
        (
            {sc.GEN_AI_OPERATION_NAME: sc.GEN_AI_OPERATION_CREATE_AGENT, sc.GEN_AI_AGENT_NAME: "w"},
            {sc.GEN_AI_AGENT_NAME: "w"},
        ),
        # A model or tool span naming another agent: not ours either.
        (
            {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_AGENT_NAME: "writer"},
            {sc.GEN_AI_AGENT_NAME: "writer", sc.GEN_AI_CONVERSATION_ID: "conv-1"},
        ),
        (
            {sc.GEN_AI_OPERATION_NAME: "execute_tool", sc.GEN_AI_AGENT_ID: "writer-1"},
            {sc.GEN_AI_AGENT_ID: "writer-1", sc.GEN_AI_CONVERSATION_ID: "conv-1"},
        ),
        # Model and tool spans of the current agent: filled in, as before.
        (
            {sc.GEN_AI_OPERATION_NAME: "chat"},
            {
                sc.GEN_AI_AGENT_ID: "planner",
                sc.GEN_AI_AGENT_NAME: "Planner",
                sc.GEN_AI_CONVERSATION_ID: "conv-1",
            },
        ),
        (
            {sc.GEN_AI_OPERATION_NAME: "execute_tool", sc.GEN_AI_AGENT_NAME: "Planner"},
            {
                sc.GEN_AI_AGENT_ID: "planner",
                sc.GEN_AI_AGENT_NAME: "Planner",
                sc.GEN_AI_CONVERSATION_ID: "conv-1",
            },
        ),
    ],
)
def test_our_identity_goes_only_on_spans_of_our_agent(
    telemetry: TelemetryCapture,
    tracer: Tracer,
    attributes: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    with genai.invoke_agent("Planner", agent_id="planner", conversation_id="conv-1"):
        tracer.start_span("foreign", attributes=attributes).end()
    found = dict(telemetry.span("foreign").attributes or {})
    del found[sc.GEN_AI_OPERATION_NAME]
    assert found == expected


def test_a_model_call_naming_another_agent_is_priced_for_that_agent(
    telemetry: TelemetryCapture, tracer: Tracer
) -> None:
    """Its cost is the other agent's (by its name, as for an invoke_agent without an id),
    not the agent whose invocation it happens to run in."""
    with genai.invoke_agent("Planner", agent_id="planner", conversation_id="conv-1"):
        span = tracer.start_span(
            "chat gpt-test",
            attributes={
                sc.GEN_AI_OPERATION_NAME: "chat",
                sc.GEN_AI_PROVIDER_NAME: "openai",
                sc.GEN_AI_REQUEST_MODEL: "gpt-test",
                sc.GEN_AI_AGENT_NAME: "writer",
            },
        )
        span.set_attributes(
            {sc.GEN_AI_USAGE_INPUT_TOKENS: 1_000_000, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 0}
        )
        span.end()
    (cost,) = telemetry.points(sc.AGENT_MODEL_COST.name)
    assert cost.attributes[sc.GEN_AI_AGENT_ID] == "writer"
    assert cost.value == pytest.approx(2.0)
    (tokens,) = telemetry.points(sc.AGENT_CONVERSATION_TOKENS.name)
    assert tokens.attributes == {sc.GEN_AI_CONVERSATION_ID: "conv-1", sc.GEN_AI_AGENT_ID: "writer"}
