"""A call that reports only one token count is still priced.

Embeddings calls report input tokens only, and some instrumentations report one count of a
chat call; the cost of what was reported is real money, so it is priced and counted, the
missing count taken as zero. Only a call with no token count at all costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.trace import Tracer

from otel_agents import semconv as sc
from otel_agents.genai import (
    DEFAULT_PRICES,
    DEFAULT_PRICES_DATE,
    GenAISpanProcessor,
    GenAITelemetry,
    get_price_table,
    set_price_table,
)
from otel_agents.genai._context import Attribution
from otel_agents.testing import TelemetryCapture

from .conftest import PRICES


@pytest.fixture
def tracer(telemetry: TelemetryCapture, recorder: GenAITelemetry) -> Tracer:
    """A tracer of some official instrumentation, with our processor on the provider."""
    telemetry.tracer_provider.add_span_processor(GenAISpanProcessor())
    return telemetry.tracer_provider.get_tracer("opentelemetry.instrumentation.someai")


def _call(tracer: Tracer, operation: str, **usage: int) -> None:
    span = tracer.start_span(
        f"{operation} gpt-test",
        attributes={
            sc.GEN_AI_OPERATION_NAME: operation,
            sc.GEN_AI_PROVIDER_NAME: "openai",
            sc.GEN_AI_REQUEST_MODEL: "gpt-test",
        },
    )
    span.set_attributes(usage)
    span.end()


def test_an_embeddings_call_with_input_tokens_only_is_priced(
    telemetry: TelemetryCapture, tracer: Tracer
) -> None:
    _call(tracer, "embeddings", **{sc.GEN_AI_USAGE_INPUT_TOKENS: 1_000_000})

    (cost,) = telemetry.points(sc.AGENT_MODEL_COST.name)
    assert cost.value == pytest.approx(PRICES["gpt-test"]["input"])


def test_a_call_with_output_tokens_only_is_priced(
    telemetry: TelemetryCapture, tracer: Tracer
) -> None:
    _call(tracer, "chat", **{sc.GEN_AI_USAGE_OUTPUT_TOKENS: 500_000})

    (cost,) = telemetry.points(sc.AGENT_MODEL_COST.name)
    assert cost.value == pytest.approx(PRICES["gpt-test"]["output"] / 2)


def test_a_call_without_token_counts_costs_nothing(
    telemetry: TelemetryCapture, tracer: Tracer
) -> None:
    _call(tracer, "chat")

    assert sc.AGENT_MODEL_COST.name not in telemetry.metrics()
    assert len(telemetry.points(sc.AGENT_MODEL_CALLS.name)) == 1


@pytest.fixture
def default_prices() -> Iterator[None]:
    previous = get_price_table()
    set_price_table(DEFAULT_PRICES)
    try:
        yield
    finally:
        set_price_table(previous)


@pytest.mark.usefixtures("default_prices")
def test_a_million_gpt_4o_input_tokens_cost_its_default_list_price(
    telemetry: TelemetryCapture,
) -> None:
    """gpt-4o listed USD 2.50 per million input tokens on the table's date (2025-06-01)."""
    assert DEFAULT_PRICES_DATE == "2025-06-01"
    recorder = GenAITelemetry(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )

    cost = recorder.record_usage(
        model="gpt-4o",
        provider="openai",
        input_tokens=1_000_000,
        output_tokens=None,
        finish_reasons=(),
        error_type=None,
        attribution=Attribution("agent-a", None, "conv-1"),
    )

    assert cost == pytest.approx(2.5)
    (point,) = telemetry.points(sc.AGENT_MODEL_COST.name)
    assert point.value == pytest.approx(2.5)
    assert point.attributes[sc.GEN_AI_AGENT_ID] == "agent-a"
