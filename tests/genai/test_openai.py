"""Official instrumentations join in: the real ``openai`` client, instrumented by
``opentelemetry-instrumentation-openai-v2``, against a real local HTTP server.

Their ``chat`` spans nest under our ``invoke_agent`` / ``process`` spans, get our agent and
conversation attribution from :class:`GenAISpanProcessor`, and are priced; a call inside our
own ``model_call`` is attributed but not counted twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

from otel_agents import genai, semconv as sc
from otel_agents.genai import GenAISpanProcessor, GenAITelemetry
from otel_agents.messaging import AgentCommunicationProtocol, AgentMessage, MessageType
from otel_agents.testing import TelemetryCapture
from tests._servers import ThreadServer
from tests.genai.openai_server import Answer, ScriptedModel

from ._scopes import points_of_every_scope

pytestmark = pytest.mark.integration


@pytest.fixture
def model_server() -> Iterator[tuple[ScriptedModel, str]]:
    model = ScriptedModel()
    server = ThreadServer(model.app).start()
    try:
        yield model, server.url
    finally:
        server.stop()


@pytest.fixture(params=["default", "gen_ai_latest_experimental"])
def instrumented(
    request: pytest.FixtureRequest,
    telemetry: TelemetryCapture,
    recorder: GenAITelemetry,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TelemetryCapture]:
    """openai-v2 instrumenting into ``telemetry``, with our span processor on its provider;
    once with its default (pre-1.37) conventions, once with the latest experimental ones."""
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    if request.param == "default":
        monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    else:
        monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", request.param)
    telemetry.tracer_provider.add_span_processor(GenAISpanProcessor())
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        yield telemetry
    finally:
        instrumentor.uninstrument()


def _client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="sk-test-not-a-secret", max_retries=0)


def _ask(client: openai.OpenAI, model: str = "gpt-test") -> Any:
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "secret question"}], timeout=30
    )


def test_their_chat_span_nests_under_invoke_agent_with_our_attribution_and_cost(
    instrumented: TelemetryCapture, model_server: tuple[ScriptedModel, str]
) -> None:
    model, url = model_server
    model.answers.append(Answer("hi", "stop", prompt_tokens=500_000, completion_tokens=125_000))
    with genai.invoke_agent("Planner", agent_id="planner", conversation_id="conv-oa"):
        reply = _ask(_client(url))
    assert reply.choices[0].message.content == "hi"

    agent = instrumented.span("invoke_agent Planner")
    chat = instrumented.span("chat gpt-test")
    assert chat.parent is not None
    assert chat.parent.span_id == agent.context.span_id
    attributes = dict(chat.attributes or {})
    assert attributes[sc.GEN_AI_AGENT_ID] == "planner"
    assert attributes[sc.GEN_AI_AGENT_NAME] == "Planner"
    assert attributes[sc.GEN_AI_CONVERSATION_ID] == "conv-oa"
    assert attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 500_000
    # Content is off by default (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT unset).
    assert "secret question" not in repr(attributes)
    assert all("secret question" not in repr(e.attributes) for e in chat.events)

    (cost,) = instrumented.points(sc.AGENT_MODEL_COST.name)
    assert cost.value == pytest.approx(1.0 + 1.0)  # 0.5M in at $2 + 0.125M out at $8
    assert dict(cost.attributes or {}) == {
        sc.GEN_AI_AGENT_ID: "planner",
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-test",
    }
    (calls,) = instrumented.points(sc.AGENT_MODEL_CALLS.name)
    assert calls.attributes[sc.AGENT_MODEL_FINISH_REASON] == "stop"
    assert (agent.attributes or {})[sc.AGENT_CONVERSATION_COST_ATTRIBUTE] == pytest.approx(2.0)
    # Their own token histogram is theirs (recorded once, by them).
    (usage,) = instrumented.points(
        sc.GEN_AI_CLIENT_TOKEN_USAGE.name, {sc.GEN_AI_TOKEN_TYPE: "input"}
    )
    assert usage.sum == 500_000


def test_a_chat_inside_our_model_call_is_not_counted_twice(
    instrumented: TelemetryCapture, model_server: tuple[ScriptedModel, str]
) -> None:
    model, url = model_server
    model.answers.append(Answer(prompt_tokens=1_000_000, completion_tokens=0))
    with (
        genai.invoke_agent("Planner", agent_id="planner"),
        genai.model_call("gpt-test", provider="openai") as call,
    ):
        reply = _ask(_client(url))
        call.set_usage(reply.usage.prompt_tokens, reply.usage.completion_tokens)

    (calls,) = instrumented.points(sc.AGENT_MODEL_CALLS.name)
    assert calls.value == 1
    (cost,) = instrumented.points(sc.AGENT_MODEL_COST.name)
    assert cost.value == pytest.approx(2.0)
    theirs = [
        s
        for s in instrumented.spans("chat gpt-test")
        if s.instrumentation_scope.name != "otel_agents.genai"
    ]
    assert len(theirs) == 1
    assert (theirs[0].attributes or {})[sc.GEN_AI_AGENT_ID] == "planner"
    # The histograms too, summed over every scope as the AI board's sum(rate(..._sum)) does:
    # openai-v2 recorded them, our model_call leaves them out (each was recorded twice).
    usage = points_of_every_scope(instrumented, sc.GEN_AI_CLIENT_TOKEN_USAGE.name)
    assert [
        (scope, p.sum) for scope, p in usage if p.attributes[sc.GEN_AI_TOKEN_TYPE] == "input"
    ] == [(theirs[0].instrumentation_scope.name, 1_000_000)]
    durations = points_of_every_scope(instrumented, sc.GEN_AI_CLIENT_OPERATION_DURATION.name)
    assert sum(p.count for _, p in durations) == 1


def test_a_model_call_without_an_instrumented_request_records_its_histograms(
    instrumented: TelemetryCapture,
) -> None:
    """Only a span of the request ending inside the call takes the histograms over."""
    with genai.model_call("gpt-test", provider="openai") as call:
        call.set_usage(7, 3)
    usage = points_of_every_scope(instrumented, sc.GEN_AI_CLIENT_TOKEN_USAGE.name)
    assert sorted((scope, p.sum) for scope, p in usage) == [
        ("otel_agents.genai", 3),
        ("otel_agents.genai", 7),
    ]
    durations = points_of_every_scope(instrumented, sc.GEN_AI_CLIENT_OPERATION_DURATION.name)
    assert [(scope, p.count) for scope, p in durations] == [("otel_agents.genai", 1)]


def test_a_failed_request_is_counted_with_its_error_type_and_raises_unchanged(
    instrumented: TelemetryCapture, model_server: tuple[ScriptedModel, str]
) -> None:
    model, url = model_server
    model.answers.append(Answer(status=500))
    with (
        genai.invoke_agent("Planner", agent_id="planner"),
        pytest.raises(openai.InternalServerError),
    ):
        _ask(_client(url))
    (calls,) = instrumented.points(sc.AGENT_MODEL_CALLS.name)
    assert calls.attributes[sc.ERROR_TYPE] == "InternalServerError"
    assert calls.attributes[sc.GEN_AI_AGENT_ID] == "planner"
    assert sc.AGENT_MODEL_COST.name not in instrumented.metrics()


def test_a_handler_calling_openai_is_attributed_to_the_recipient_and_its_conversation(
    instrumented: TelemetryCapture, model_server: tuple[ScriptedModel, str]
) -> None:
    _model, url = model_server
    client = _client(url)
    comm = AgentCommunicationProtocol(
        tracer_provider=instrumented.tracer_provider, meter_provider=instrumented.meter_provider
    )
    try:
        comm.register_agent("worker", "Worker", ["analysis"], "http://127.0.0.1:2")
        comm.register_handler("worker", lambda message: _ask(client, "unpriced-model"))
        comm.send_message("boss", "worker", MessageType.REQUEST, {}, conversation_id="c-77")
        processed: AgentMessage | None = comm.process_next("worker")
        assert processed is not None
    finally:
        comm.stop()
    chat = instrumented.span("chat unpriced-model")
    process = instrumented.span("process worker")
    assert chat.parent is not None
    assert chat.parent.span_id == process.context.span_id
    assert (chat.attributes or {})[sc.GEN_AI_AGENT_ID] == "worker"
    assert (chat.attributes or {})[sc.GEN_AI_CONVERSATION_ID] == "c-77"
    (unpriced,) = instrumented.points(sc.AGENT_MODEL_UNPRICED.name)
    assert unpriced.value == 1
    tokens = {
        (p.attributes[sc.GEN_AI_CONVERSATION_ID], p.attributes[sc.GEN_AI_AGENT_ID]): p.value
        for p in instrumented.points(sc.AGENT_CONVERSATION_TOKENS.name)
    }
    assert tokens == {("c-77", "worker"): 15}
