"""GenAISpanProcessor with spans of another instrumentation: attribution, pricing, and bad
usage values logged and skipped, never raised into the model call."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.trace import Tracer

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


@pytest.mark.parametrize("bad", [-1, 2.5, "12", True])
def test_bad_usage_logs_a_line_and_records_nothing(
    telemetry: TelemetryCapture, tracer: Tracer, caplog: pytest.LogCaptureFixture, bad: Any
) -> None:
    with caplog.at_level(logging.WARNING, logger="otel_agents.genai"):
        _chat(tracer, **{sc.GEN_AI_USAGE_INPUT_TOKENS: bad, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 1})
    assert any(sc.GEN_AI_USAGE_INPUT_TOKENS in r.getMessage() for r in caplog.records)
    assert sc.AGENT_MODEL_CALLS.name not in telemetry.metrics()
    assert sc.AGENT_MODEL_COST.name not in telemetry.metrics()
    assert len(telemetry.spans("chat gpt-test")) == 1  # the span itself is untouched


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
