"""Finish reasons and error types are what a model server said: as metric labels they are
bounded in length and in distinct values (``_OTHER`` past that), while spans keep them."""

from __future__ import annotations

from typing import get_args

import pytest
from opentelemetry.trace import SpanKind, Tracer
from opentelemetry.util.genai.types import FinishReason

from otel_agents import genai, semconv as sc
from otel_agents.genai import GenAISpanProcessor, GenAITelemetry
from otel_agents.genai._labels import MAX_ERROR_TYPE, MAX_ERROR_TYPES
from otel_agents.testing import TelemetryCapture


@pytest.fixture
def tracer(telemetry: TelemetryCapture, recorder: GenAITelemetry) -> Tracer:
    """openai-v2's tracer, with our processor on the provider."""
    telemetry.tracer_provider.add_span_processor(GenAISpanProcessor())
    return telemetry.tracer_provider.get_tracer("opentelemetry.instrumentation.openai_v2")


def _answered(tracer: Tracer, finish_reason: str, error_type: str | None = None) -> None:
    """A chat span as an instrumentation records a response (or failure) from a server."""
    with tracer.start_as_current_span(
        "chat gpt-test",
        kind=SpanKind.CLIENT,
        attributes={
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_REQUEST_MODEL: "gpt-test",
            sc.GEN_AI_SYSTEM: "openai",
        },
    ) as span:
        span.set_attribute(sc.GEN_AI_RESPONSE_FINISH_REASONS, [finish_reason])
        span.set_attribute(sc.GEN_AI_USAGE_INPUT_TOKENS, 10)
        span.set_attribute(sc.GEN_AI_USAGE_OUTPUT_TOKENS, 1)
        if error_type is not None:
            span.set_attribute(sc.ERROR_TYPE, error_type)


def _labels(telemetry: TelemetryCapture, key: str) -> dict[object, int]:
    return {p.attributes.get(key): p.value for p in telemetry.points(sc.AGENT_MODEL_CALLS.name)}


def test_a_servers_unique_huge_finish_reasons_are_one_other_label(
    telemetry: TelemetryCapture, tracer: Tracer
) -> None:
    """Each of three 200 kB reasons was a label value of its own, per response."""
    for n in range(3):
        _answered(tracer, f"{n}" + "x" * 200_000)
    _answered(tracer, "tool_calls")
    assert _labels(telemetry, sc.AGENT_MODEL_FINISH_REASON) == {"_OTHER": 3, "tool_calls": 1}
    spans = telemetry.spans("chat gpt-test")
    assert len(spans[0].attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS][0]) == 200_001  # type: ignore[index]


@pytest.mark.parametrize(
    "error_type",
    ["x" * (MAX_ERROR_TYPE + 1), "Timeout\nError", "error: the server said so", ""],
    ids=["long", "newline", "sentence", "empty"],
)
def test_an_error_type_that_is_no_short_identifier_is_other(
    telemetry: TelemetryCapture, tracer: Tracer, error_type: str
) -> None:
    _answered(tracer, "error", error_type)
    expected = "_OTHER" if error_type else None  # an empty one names no error
    assert _labels(telemetry, sc.ERROR_TYPE) == {expected: 1}


def test_distinct_error_types_are_bounded(telemetry: TelemetryCapture, tracer: Tracer) -> None:
    for n in range(MAX_ERROR_TYPES + 10):
        _answered(tracer, "error", f"Error{n}")
    _answered(tracer, "error", "Error0")  # one already labelled keeps its label
    labels = _labels(telemetry, sc.ERROR_TYPE)
    assert len(labels) == MAX_ERROR_TYPES + 1
    assert labels["_OTHER"] == 10
    assert labels["Error0"] == 2


def test_our_own_calls_keep_well_known_reasons_and_class_names(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    """The span says what the code set; the metric labels are the bounded forms."""
    with genai.model_call("cheap", provider="anthropic") as call:
        call.set_response(finish_reasons=["end_turn"])

    def timed_out() -> None:
        with genai.model_call("cheap", provider="openai") as call:
            call.set_response(finish_reasons=["length"])
            raise TimeoutError

    with pytest.raises(TimeoutError):
        timed_out()
    assert _labels(telemetry, sc.AGENT_MODEL_FINISH_REASON) == {"_OTHER": 1, "length": 1}
    assert _labels(telemetry, sc.ERROR_TYPE) == {None: 1, "TimeoutError": 1}
    first, _ = telemetry.spans("chat cheap")
    assert first.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)  # type: ignore[index]
    (duration,) = telemetry.points(
        sc.GEN_AI_CLIENT_OPERATION_DURATION.name, {sc.ERROR_TYPE: "TimeoutError"}
    )
    assert duration.count == 1


def test_the_well_known_reasons_include_util_genais() -> None:
    """Every reason util-genai's FinishReason lists is kept as a label."""
    assert set(get_args(FinishReason)) <= sc.AGENT_MODEL_FINISH_REASONS
    assert {"stop", "length", "content_filter", "tool_call", "error"} <= (
        sc.AGENT_MODEL_FINISH_REASONS
    )
