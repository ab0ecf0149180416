"""The GenAI API: model calls, agent invocations and tool executions as spans and metrics."""

from __future__ import annotations

import asyncio
import json

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from otel_agents import genai, semconv as sc
from otel_agents.genai import GenAITelemetry
from otel_agents.testing import TelemetryCapture


def _attrs(point: object) -> dict[str, object]:
    return dict(getattr(point, "attributes", None) or {})


def test_model_call_is_a_client_span_with_usage_and_response(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    with genai.model_call(
        "gpt-test", provider="openai", server_address="127.0.0.1", server_port=8080
    ) as call:
        call.set_usage(100, 20)
        call.set_response(model="gpt-test-0613", finish_reasons=["stop"], response_id="r1")

    span = telemetry.span("chat gpt-test")
    assert span.kind is SpanKind.CLIENT
    assert dict(span.attributes or {}) == {
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-test",
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: 8080,
        sc.GEN_AI_RESPONSE_MODEL: "gpt-test-0613",
        sc.GEN_AI_RESPONSE_ID: "r1",
        sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        sc.GEN_AI_USAGE_INPUT_TOKENS: 100,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 20,
    }


def test_model_call_records_token_duration_calls_and_cost(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    with (
        genai.invoke_agent("planner", agent_id="planner-1"),
        genai.model_call("gpt-test", provider="openai") as call,
    ):
        call.set_usage(1_000_000, 500_000)
        call.set_response(model="gpt-test", finish_reasons=["length", "stop"])

    base = {
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-test",
        sc.GEN_AI_RESPONSE_MODEL: "gpt-test",
        sc.GEN_AI_AGENT_ID: "planner-1",
    }
    tokens = {
        _attrs(p)[sc.GEN_AI_TOKEN_TYPE]: p
        for p in telemetry.points(sc.GEN_AI_CLIENT_TOKEN_USAGE.name)
    }
    assert set(tokens) == {"input", "output"}
    assert tokens["input"].sum == 1_000_000
    assert tokens["output"].sum == 500_000
    assert _attrs(tokens["input"]) == {**base, sc.GEN_AI_TOKEN_TYPE: "input"}
    assert tuple(tokens["input"].explicit_bounds) == sc.GEN_AI_TOKEN_BUCKETS
    (duration,) = telemetry.points(sc.GEN_AI_CLIENT_OPERATION_DURATION.name)
    assert _attrs(duration) == base
    assert duration.count == 1
    assert tuple(duration.explicit_bounds) == sc.GEN_AI_DURATION_BUCKETS
    (calls,) = telemetry.points(sc.AGENT_MODEL_CALLS.name)
    assert _attrs(calls) == {
        sc.GEN_AI_AGENT_ID: "planner-1",
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-test",
        sc.AGENT_MODEL_FINISH_REASON: "length",
    }
    (cost,) = telemetry.points(sc.AGENT_MODEL_COST.name)
    assert cost.value == pytest.approx(2.0 + 4.0)  # 1M in at $2 + 0.5M out at $8
    assert _attrs(cost) == {
        sc.GEN_AI_AGENT_ID: "planner-1",
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-test",
    }


def test_an_unknown_model_costs_nothing_and_is_counted_unpriced(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    cost = genai.record_model_call(
        model="mystery", provider="acme.ai", input_tokens=10, output_tokens=5, duration_s=0.2
    )
    assert cost == 0.0
    (unpriced,) = telemetry.points(sc.AGENT_MODEL_UNPRICED.name)
    assert unpriced.value == 1
    assert _attrs(unpriced) == {
        sc.GEN_AI_PROVIDER_NAME: "acme.ai",
        sc.GEN_AI_REQUEST_MODEL: "mystery",
    }
    assert sc.AGENT_MODEL_COST.name not in telemetry.metrics()
    (calls,) = telemetry.points(sc.AGENT_MODEL_CALLS.name)
    assert _attrs(calls)[sc.AGENT_MODEL_FINISH_REASON] == "none"


class RateLimited(Exception):
    """A provider's error, as a client library would raise it."""


def test_a_failing_model_call_marks_the_span_and_error_type_and_reraises(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    error = RateLimited("slow down, key sk-secret")
    with pytest.raises(RateLimited) as raised, genai.model_call("gpt-test", provider="openai"):
        raise error
    assert raised.value is error
    span = telemetry.span("chat gpt-test")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})[sc.ERROR_TYPE] == "RateLimited"
    (duration,) = telemetry.points(sc.GEN_AI_CLIENT_OPERATION_DURATION.name)
    assert _attrs(duration)[sc.ERROR_TYPE] == "RateLimited"
    (calls,) = telemetry.points(sc.AGENT_MODEL_CALLS.name)
    assert _attrs(calls)[sc.ERROR_TYPE] == "RateLimited"
    assert sc.GEN_AI_CLIENT_TOKEN_USAGE.name not in telemetry.metrics()


def test_invoke_agent_is_an_internal_span_parenting_model_calls_and_tools(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    with genai.invoke_agent("researcher", agent_id="r-7", conversation_id="conv-1"):
        with genai.model_call("cheap", provider="openai") as call:
            call.set_usage(1000, 1000)
        with genai.execute_tool("search", call_id="call_1"):
            pass

    agent = telemetry.span("invoke_agent researcher")
    model = telemetry.span("chat cheap")
    tool = telemetry.span("execute_tool search")
    assert agent.kind is SpanKind.INTERNAL
    assert tool.kind is SpanKind.INTERNAL
    assert model.parent is not None
    assert model.parent.span_id == agent.context.span_id
    assert tool.parent is not None
    assert tool.parent.span_id == agent.context.span_id
    assert dict(agent.attributes or {}) == {
        sc.GEN_AI_OPERATION_NAME: "invoke_agent",
        sc.GEN_AI_AGENT_NAME: "researcher",
        sc.GEN_AI_AGENT_ID: "r-7",
        sc.GEN_AI_CONVERSATION_ID: "conv-1",
        sc.AGENT_CONVERSATION_COST_ATTRIBUTE: pytest.approx(0.0015),
        sc.AGENT_CONVERSATION_TOKENS_ATTRIBUTE: 2000,
    }
    assert (model.attributes or {})[sc.GEN_AI_CONVERSATION_ID] == "conv-1"
    assert dict(tool.attributes or {}) == {
        sc.GEN_AI_OPERATION_NAME: "execute_tool",
        sc.GEN_AI_TOOL_NAME: "search",
        sc.GEN_AI_TOOL_TYPE: "function",
        sc.GEN_AI_TOOL_CALL_ID: "call_1",
        sc.GEN_AI_AGENT_ID: "r-7",
    }
    (tools,) = telemetry.points(sc.AGENT_TOOL_CALLS.name)
    assert _attrs(tools) == {sc.GEN_AI_TOOL_NAME: "search", sc.GEN_AI_AGENT_ID: "r-7"}


def test_a_failing_tool_is_counted_with_its_error_type(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    with pytest.raises(TimeoutError), genai.execute_tool("fetch"):
        raise TimeoutError
    (tools,) = telemetry.points(sc.AGENT_TOOL_CALLS.name)
    assert _attrs(tools) == {sc.GEN_AI_TOOL_NAME: "fetch", sc.ERROR_TYPE: "TimeoutError"}
    assert telemetry.span("execute_tool fetch").status.status_code is StatusCode.ERROR


def test_decorators_work_on_sync_and_async_functions(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    @genai.invoke_agent("writer")
    def write(text: str) -> str:
        with genai.model_call("cheap", provider="openai") as call:
            call.set_usage(1, 2)
        return text.upper()

    @genai.execute_tool("lookup")
    async def lookup(key: str) -> str:
        await asyncio.sleep(0)
        return key * 2

    @genai.invoke_agent("async-writer", conversation_id="c-async")
    async def write_async() -> str:
        async with genai.model_call("cheap", provider="openai") as call:
            call.set_usage(3, 4)
        return await lookup("k")

    assert write("a") == "A"
    assert write("b") == "B"
    assert asyncio.run(write_async()) == "kk"
    assert len(telemetry.spans("invoke_agent writer")) == 2
    agents = {
        _attrs(p)[sc.GEN_AI_AGENT_ID]: p.value for p in telemetry.points(sc.AGENT_MODEL_CALLS.name)
    }
    assert agents == {"writer": 2, "async-writer": 1}
    (tool,) = telemetry.points(sc.AGENT_TOOL_CALLS.name)
    assert _attrs(tool) == {sc.GEN_AI_TOOL_NAME: "lookup", sc.GEN_AI_AGENT_ID: "async-writer"}
    assert write.__name__ == "write"


def test_the_attribution_ends_with_the_invocation(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    with genai.invoke_agent("a"):
        pass
    genai.record_model_call(
        model="cheap", provider="openai", input_tokens=1, output_tokens=1, duration_s=0.1
    )
    (calls,) = telemetry.points(sc.AGENT_MODEL_CALLS.name)
    assert sc.GEN_AI_AGENT_ID not in _attrs(calls)


def test_no_message_content_is_captured_by_default(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    with genai.invoke_agent("a"), genai.model_call("cheap", provider="openai") as call:
        call.set_usage(1, 1)
    for span in telemetry.spans():
        keys = set(span.attributes or {})
        assert not {k for k in keys if "message" in k or "content" in k or "prompt" in k}


_PROMPT = [{"role": "user", "parts": [{"type": "text", "content": "my card is 4111"}]}]
_ANSWER = [{"role": "assistant", "parts": [{"type": "text", "content": "noted"}]}]


def test_message_content_is_dropped_unless_the_switch_opts_in(
    telemetry: TelemetryCapture, recorder: GenAITelemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    with genai.model_call("cheap", provider="openai") as call:
        assert call.set_messages(input_messages=_PROMPT, output_messages=_ANSWER) is False
    assert "4111" not in repr(telemetry.span("chat cheap").attributes)


def test_message_content_is_on_the_span_when_opted_in(
    telemetry: TelemetryCapture, recorder: GenAITelemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
    with genai.model_call("cheap", provider="openai") as call:
        assert call.set_messages(input_messages=_PROMPT, output_messages=_ANSWER) is True
    attributes = telemetry.span("chat cheap").attributes or {}
    assert json.loads(str(attributes[sc.GEN_AI_INPUT_MESSAGES])) == _PROMPT
    assert json.loads(str(attributes[sc.GEN_AI_OUTPUT_MESSAGES])) == _ANSWER
