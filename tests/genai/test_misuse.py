"""Misuse and failures around the GenAI API: a clear error for a programming mistake, and
telemetry that fails never reaches the agent's model call or replaces its exception."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace

from otel_agents import ConfigurationError, genai, semconv as sc
from otel_agents._errors import InvalidTypeError
from otel_agents.genai import GenAITelemetry, PriceTable, ScopeActiveError
from otel_agents.testing import TelemetryCapture


def test_a_scope_entered_again_while_active_is_refused_and_the_first_ends_cleanly(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    """Entering one object twice would overwrite the first entry's span and context: the
    first span would never end and would stay the current span of the thread."""
    planner = genai.invoke_agent("planner")
    with planner, pytest.raises(ScopeActiveError, match="already active"):
        planner.__enter__()
    (span,) = telemetry.spans("invoke_agent planner")
    assert span.end_time is not None
    assert not trace.get_current_span().is_recording()
    with planner:  # once it ended it may be used again
        pass
    assert len(telemetry.spans("invoke_agent planner")) == 2


def test_a_model_call_used_again_records_each_call_separately(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    """A second ``with`` of one ModelCall is a new request: it starts without the first
    one's usage and response, so a second call that fails at once costs nothing."""
    call = genai.model_call("gpt-test", provider="openai")
    with call:
        call.set_usage(1_000_000, 0)  # $2.00
        call.set_response(model="gpt-test-1", finish_reasons=["stop"], response_id="resp-1")
    with pytest.raises(TimeoutError), call:
        raise TimeoutError("provider timed out")
    with call:
        call.set_usage(0, 125_000)  # $1.00
    first, second, third = telemetry.spans("chat gpt-test")
    assert first.attributes is not None
    assert second.attributes is not None
    assert first.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 1_000_000
    assert first.attributes[sc.GEN_AI_RESPONSE_ID] == "resp-1"
    assert second.attributes[sc.ERROR_TYPE] == "TimeoutError"
    for key in (
        sc.GEN_AI_USAGE_INPUT_TOKENS,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS,
        sc.GEN_AI_RESPONSE_ID,
        sc.GEN_AI_RESPONSE_MODEL,
        sc.GEN_AI_RESPONSE_FINISH_REASONS,
    ):
        assert key not in second.attributes, key
    assert dict(third.attributes or {})[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 125_000
    assert sc.GEN_AI_RESPONSE_ID not in (third.attributes or {})
    assert sum(p.value for p in telemetry.points(sc.AGENT_MODEL_COST.name)) == pytest.approx(3.0)
    usage = telemetry.points(sc.GEN_AI_CLIENT_TOKEN_USAGE.name)
    assert sum(p.sum for p in usage) == 1_125_000
    assert (call.input_tokens, call.output_tokens) == (0, 125_000)


def test_generator_functions_cannot_be_decorated(recorder: GenAITelemetry) -> None:
    """Their body runs when iterated, after the call: it would be outside the span."""

    def stream() -> Iterator[int]:
        yield 1

    async def astream() -> Any:
        yield 1

    for func in (stream, astream):
        with pytest.raises(InvalidTypeError, match="generator function"):
            genai.invoke_agent("streamer")(func)


class _BrokenTable(PriceTable):
    def price(self, model: str) -> Any:
        raise RuntimeError("price lookup broke")


def _slow_call() -> None:
    with genai.model_call("gpt-test", provider="openai") as call:
        call.set_usage(10, 5)
        raise TimeoutError("the model is slow")


def test_failing_telemetry_never_reaches_the_call_nor_replaces_its_exception(
    telemetry: TelemetryCapture, recorder: GenAITelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    previous = genai.get_price_table()
    genai.set_price_table(_BrokenTable())
    try:
        with caplog.at_level(logging.ERROR, logger="otel_agents.genai"):
            with genai.model_call("gpt-test", provider="openai") as call:
                call.set_usage(10, 5)
            with pytest.raises(TimeoutError, match="the model is slow"):
                _slow_call()
    finally:
        genai.set_price_table(previous)
    assert [r for r in caplog.records if "GenAI telemetry" in r.getMessage()]
    assert all(span.end_time is not None for span in telemetry.spans("chat gpt-test"))


def test_a_price_table_built_directly_is_checked_like_from_mapping() -> None:
    assert PriceTable({"m": {"input": 1, "output": 2}}).price("m") == (1.0, 2.0)
    with pytest.raises(ConfigurationError, match=r"model 'm': field 'output' is missing"):
        PriceTable({"m": {"input": 1}})
    with pytest.raises(ConfigurationError, match=r"field 'input' = .* is not valid"):
        PriceTable.from_mapping({"m": {"input": 10**400, "output": 1}})
