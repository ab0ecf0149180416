"""Bad input to the GenAI API: a clear error naming the field, and nothing recorded."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from otel_agents import genai, semconv as sc
from otel_agents._errors import InvalidTypeError, InvalidValueError
from otel_agents.genai import GenAITelemetry
from otel_agents.genai._model import MAX_TOKENS
from otel_agents.testing import TelemetryCapture


@pytest.mark.parametrize(
    ("input_tokens", "output_tokens", "field", "error"),
    [
        (-1, 5, "input_tokens", InvalidValueError),
        (5, -3, "output_tokens", InvalidValueError),
        (1.5, 5, "input_tokens", InvalidTypeError),
        (5, "7", "output_tokens", InvalidTypeError),
        (True, 5, "input_tokens", InvalidTypeError),
        (None, 5, "input_tokens", InvalidTypeError),
        # Past MAX_TOKENS: 2**64 broke the OTLP encoding of every later metric batch, and
        # 10**400 raised OverflowError into record_model_call's caller after recording.
        (MAX_TOKENS + 1, 5, "input_tokens", InvalidValueError),
        (5, 2**64, "output_tokens", InvalidValueError),
        pytest.param(10**400, 5, "input_tokens", InvalidValueError, id="10**400"),
    ],
)
def test_bad_token_counts_are_refused_naming_the_field(
    telemetry: TelemetryCapture,
    recorder: GenAITelemetry,
    input_tokens: Any,
    output_tokens: Any,
    field: str,
    error: type[Exception],
) -> None:
    with pytest.raises(error, match=f"^{field}="):
        genai.record_model_call(
            model="cheap",
            provider="openai",
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            duration_s=0.1,
        )
    with genai.model_call("cheap", provider="openai") as call:
        with pytest.raises(error, match=f"^{field}="):
            call.set_usage(input_tokens, output_tokens)
        assert call.input_tokens is None
        assert call.output_tokens is None
    assert sc.GEN_AI_CLIENT_TOKEN_USAGE.name not in telemetry.metrics()
    assert sc.AGENT_MODEL_COST.name not in telemetry.metrics()
    # The model_call block's own duration only: record_model_call recorded nothing.
    (duration,) = telemetry.points(sc.GEN_AI_CLIENT_OPERATION_DURATION.name)
    assert duration.count == 1


def test_the_largest_token_counts_still_export_over_otlp(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    """MAX_TOKENS per call is accepted, and a batch of such calls (the OTLP int64 fields of
    counts, sums and gauges) still encodes."""
    with genai.invoke_agent("planner", conversation_id="c1"):
        for _ in range(3):
            with genai.model_call("cheap", provider="openai") as call:
                call.set_usage(MAX_TOKENS, MAX_TOKENS)
        genai.record_model_call(
            model="cheap",
            provider="openai",
            input_tokens=MAX_TOKENS,
            output_tokens=MAX_TOKENS,
            duration_s=0.1,
        )
    usage = telemetry.points(sc.GEN_AI_CLIENT_TOKEN_USAGE.name)
    assert sorted(p.sum for p in usage) == [4 * MAX_TOKENS, 4 * MAX_TOKENS]
    data = telemetry.metric_reader.get_metrics_data()
    assert data is not None
    encode_metrics(data)  # raised EncodingException for counts past int64
    encode_spans(telemetry.spans())


def test_record_model_call_never_raises_a_recording_failure(
    recorder: GenAITelemetry, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Checked arguments are the caller's business; what happens after them is telemetry's."""

    def broken(**_: Any) -> float:
        raise OverflowError("int too large to convert to float")

    monkeypatch.setattr(recorder, "record_model", broken)
    with caplog.at_level(logging.ERROR, logger="otel_agents.genai"):
        cost = genai.record_model_call(
            model="cheap", provider="openai", input_tokens=1, output_tokens=1, duration_s=0.1
        )
    assert cost == 0.0
    assert any("record_model_call" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("duration", [-0.1, float("nan"), float("inf"), "1s", True])
def test_a_bad_duration_is_refused(recorder: GenAITelemetry, duration: Any) -> None:
    with pytest.raises(InvalidValueError, match=r"^duration_s="):
        genai.record_model_call(
            model="cheap", provider="openai", input_tokens=1, output_tokens=1, duration_s=duration
        )


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: genai.model_call("", provider="openai"), "model"),
        (lambda: genai.model_call("m", provider=""), "provider"),
        (lambda: genai.model_call("m", provider="openai", server_port=0), "server_port"),
        (lambda: genai.invoke_agent(""), "agent_name"),
        (lambda: genai.invoke_agent("a", conversation_id=7), "conversation_id"),
        (lambda: genai.execute_tool("x" * 300), "tool_name"),
    ],
)
def test_bad_names_are_refused_naming_the_parameter(call: Any, field: str) -> None:
    with pytest.raises((InvalidValueError, InvalidTypeError), match=f"^{field}="):
        call()


def test_finish_reasons_must_be_a_sequence_of_strings(recorder: GenAITelemetry) -> None:
    with genai.model_call("cheap", provider="openai") as call:
        with pytest.raises(InvalidTypeError, match=r"^finish_reasons="):
            call.set_response(finish_reasons="stop")
        with pytest.raises(InvalidTypeError, match=r"^finish_reasons="):
            call.set_response(finish_reasons=[1])


def test_unknown_provider_names_are_accepted_as_the_conventions_allow(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    """``gen_ai.provider.name`` lists well-known values but is open to others."""
    with genai.model_call("cheap", provider="my-inhouse-llm") as call:
        call.set_usage(1, 1)
    span = telemetry.span("chat cheap")
    assert (span.attributes or {})[sc.GEN_AI_PROVIDER_NAME] == "my-inhouse-llm"


@pytest.mark.parametrize("top", ["5", 2.5, None, True, -1, float("nan")])
def test_a_bad_top_conversations_is_refused_naming_the_parameter(
    telemetry: TelemetryCapture, top: Any
) -> None:
    """Accepted, a float made every collection of the rollup gauges fail (they were never
    exported); a string failed with a bare TypeError naming nothing."""
    with pytest.raises(InvalidValueError, match=r"top_conversations=.* is not valid"):
        GenAITelemetry(
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
            top_conversations=top,
        )
    assert telemetry.metrics() == {}


@pytest.mark.parametrize("top", [0, 1, 20])
def test_top_conversations_bounds_the_rollup_gauges(telemetry: TelemetryCapture, top: int) -> None:
    recorder = GenAITelemetry(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        top_conversations=top,
    )
    for n in range(3):
        recorder.conversations.add(f"conv-{n}", "planner", float(n), 10)
    if top == 0:
        assert sc.AGENT_CONVERSATION_COST.name not in telemetry.metrics()
    else:
        assert len(telemetry.points(sc.AGENT_CONVERSATION_COST.name)) == min(top, 3)
