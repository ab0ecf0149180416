"""A model_call hands the gen_ai.client.* histograms to an instrumentation only when that
instrumentation records them: by instrumentation scope (``HISTOGRAM_SCOPES``). A span of any
other scope (vertexai's has no meter at all) leaves them to our call, so every request is one
sample, never none."""

from __future__ import annotations

import pytest
from opentelemetry.trace import Tracer

from otel_agents import genai, semconv as sc
from otel_agents.genai import GenAISpanProcessor, GenAITelemetry
from otel_agents.genai._processor import HISTOGRAM_SCOPES
from otel_agents.testing import TelemetryCapture

from ._scopes import points_of_every_scope

OURS = "otel_agents.genai"


@pytest.fixture
def processed(telemetry: TelemetryCapture, recorder: GenAITelemetry) -> TelemetryCapture:
    """``telemetry`` with our span processor on its provider and the module API into it."""
    telemetry.tracer_provider.add_span_processor(GenAISpanProcessor())
    return telemetry


def _request(telemetry: TelemetryCapture, tracer: Tracer, scope: str, *, measures: bool) -> None:
    """One model request inside our model_call, made by an instrumentation of ``scope``:
    its ``chat`` span with usage; with ``measures``, its own histogram samples too (as
    openai-v2, util-genai's handler or google-genai record them, on their own meter)."""
    with genai.model_call("gpt-test", provider="openai") as call:
        attributes = {
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_PROVIDER_NAME: "openai",
            sc.GEN_AI_REQUEST_MODEL: "gpt-test",
        }
        with tracer.start_as_current_span("chat gpt-test", attributes=attributes) as span:
            span.set_attributes(
                {sc.GEN_AI_USAGE_INPUT_TOKENS: 120, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 30}
            )
        if measures:
            meter = telemetry.meter_provider.get_meter(scope)
            meter.create_histogram(sc.GEN_AI_CLIENT_OPERATION_DURATION.name, "s").record(
                0.25, attributes
            )
            tokens = meter.create_histogram(sc.GEN_AI_CLIENT_TOKEN_USAGE.name, "{token}")
            tokens.record(120, {**attributes, sc.GEN_AI_TOKEN_TYPE: "input"})
            tokens.record(30, {**attributes, sc.GEN_AI_TOKEN_TYPE: "output"})
        call.set_usage(120, 30)


def test_the_allow_list_names_the_instrumentations_that_record_the_histograms() -> None:
    assert {
        "opentelemetry.instrumentation.openai_v2",
        "opentelemetry.util.genai.handler",
    } <= HISTOGRAM_SCOPES
    assert "opentelemetry.instrumentation.vertexai" not in HISTOGRAM_SCOPES


@pytest.mark.parametrize("scope", sorted(HISTOGRAM_SCOPES))
def test_a_request_of_an_allow_listed_scope_is_one_sample_of_each_histogram(
    processed: TelemetryCapture, scope: str
) -> None:
    _request(processed, processed.tracer_provider.get_tracer(scope), scope, measures=True)

    durations = points_of_every_scope(processed, sc.GEN_AI_CLIENT_OPERATION_DURATION.name)
    assert [(name, p.count) for name, p in durations] == [(scope, 1)]
    tokens = points_of_every_scope(processed, sc.GEN_AI_CLIENT_TOKEN_USAGE.name)
    assert sorted((name, p.attributes[sc.GEN_AI_TOKEN_TYPE], p.sum) for name, p in tokens) == [
        (scope, "input", 120),
        (scope, "output", 30),
    ]
    (calls,) = processed.points(sc.AGENT_MODEL_CALLS.name)  # the call still counts it
    assert calls.value == 1


@pytest.mark.parametrize(
    "scope",
    [
        "opentelemetry.instrumentation.vertexai",  # a tracer and a logger, no meter
        "opentelemetry.instrumentation.someai",
        "my_company.llm_client",
    ],
)
def test_a_request_of_an_unknown_scope_keeps_our_histograms(
    processed: TelemetryCapture, scope: str
) -> None:
    _request(processed, processed.tracer_provider.get_tracer(scope), scope, measures=False)

    durations = points_of_every_scope(processed, sc.GEN_AI_CLIENT_OPERATION_DURATION.name)
    assert [(name, p.count) for name, p in durations] == [(OURS, 1)]
    tokens = points_of_every_scope(processed, sc.GEN_AI_CLIENT_TOKEN_USAGE.name)
    assert sorted((name, p.attributes[sc.GEN_AI_TOKEN_TYPE], p.sum) for name, p in tokens) == [
        (OURS, "input", 120),
        (OURS, "output", 30),
    ]
    (calls,) = processed.points(sc.AGENT_MODEL_CALLS.name)
    assert calls.value == 1
    assert len(processed.spans("chat gpt-test")) == 2  # theirs (attributed) and ours
