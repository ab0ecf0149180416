"""GenAI model-call overhead against the raw OpenTelemetry SDK, measured in the same run.

    .venv/bin/python benchmarks/bench_genai.py

Target (issue 13): a recorded model call (``with genai.model_call(...)`` with
``set_usage`` and ``set_response``, inside an agent's attribution) at most 1.2x the raw SDK
operations it performs, written by hand: start the CLIENT span with the same attributes,
attach its context, set the response and usage attributes, detach, end; record the duration
histogram, the token histogram twice, the calls counter and the cost counter (after a dict
lookup of the price). The rollup of a conversation (our own, no SDK counterpart) is printed
separately. The price lookup is O(1): a table of 100,000 models costs what one of 10 does.
Printed, never asserted.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from opentelemetry.context import attach, detach
from opentelemetry.trace import SpanKind, set_span_in_context

sys.path.insert(0, str(Path(__file__).parent))
from _compare import compare
from _providers import discarding_providers

from otel_agents import semconv as sc
from otel_agents.genai import GenAITelemetry, PriceTable, model_call, set_price_table
from otel_agents.genai._context import Attribution, with_attribution
from otel_agents.genai._telemetry import reset_default_telemetry

MODEL, PROVIDER = "gpt-4o", "openai"


def model_calls() -> None:
    tracer_provider, meter_provider = discarding_providers()
    recorder = GenAITelemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)
    reset_default_telemetry(recorder)
    set_price_table({MODEL: {"input": 2.5, "output": 10.0}})
    tracer = tracer_provider.get_tracer("raw")
    meter = meter_provider.get_meter("raw")
    duration = sc.create_instrument(meter, sc.GEN_AI_CLIENT_OPERATION_DURATION)
    tokens = sc.create_instrument(meter, sc.GEN_AI_CLIENT_TOKEN_USAGE)
    calls = sc.create_instrument(meter, sc.AGENT_MODEL_CALLS)
    cost = sc.create_instrument(meter, sc.AGENT_MODEL_COST)
    prices = {MODEL: (2.5, 10.0)}
    reasons = ("stop",)

    def raw() -> None:
        start_attributes = {
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_PROVIDER_NAME: PROVIDER,
            sc.GEN_AI_REQUEST_MODEL: MODEL,
            sc.GEN_AI_AGENT_ID: "planner",
        }
        started = time.perf_counter()
        span = tracer.start_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes=start_attributes)
        token = attach(set_span_in_context(span))
        detach(token)
        span.set_attributes(
            {
                sc.GEN_AI_RESPONSE_MODEL: MODEL,
                sc.GEN_AI_RESPONSE_FINISH_REASONS: reasons,
                sc.GEN_AI_USAGE_INPUT_TOKENS: 1200,
                sc.GEN_AI_USAGE_OUTPUT_TOKENS: 300,
            }
        )
        span.end()
        attributes = {
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_PROVIDER_NAME: PROVIDER,
            sc.GEN_AI_REQUEST_MODEL: MODEL,
            sc.GEN_AI_RESPONSE_MODEL: MODEL,
            sc.GEN_AI_AGENT_ID: "planner",
        }
        duration.record(time.perf_counter() - started, attributes)
        tokens.record(1200, {**attributes, sc.GEN_AI_TOKEN_TYPE: "input"})
        tokens.record(300, {**attributes, sc.GEN_AI_TOKEN_TYPE: "output"})
        calls.add(
            1,
            {
                sc.GEN_AI_PROVIDER_NAME: PROVIDER,
                sc.GEN_AI_REQUEST_MODEL: MODEL,
                sc.AGENT_MODEL_FINISH_REASON: "stop",
                sc.GEN_AI_AGENT_ID: "planner",
            },
        )
        price_in, price_out = prices[MODEL]
        cost.add(
            (1200 * price_in + 300 * price_out) / 1e6,
            {
                sc.GEN_AI_PROVIDER_NAME: PROVIDER,
                sc.GEN_AI_REQUEST_MODEL: MODEL,
                sc.GEN_AI_AGENT_ID: "planner",
            },
        )

    def ours() -> None:
        with model_call(MODEL, provider=PROVIDER) as call:
            call.set_usage(1200, 300)
            call.set_response(model=MODEL, finish_reasons=reasons)

    outer = attach(with_attribution(Attribution("planner", "Planner", None)))
    try:
        compare("model_call vs the raw SDK operations", raw, ours, number=5_000, target=1.2)
    finally:
        detach(outer)
    outer = attach(with_attribution(Attribution("planner", "Planner", "conversation-1")))
    try:
        compare(
            "model_call in a conversation (rollup) vs raw SDK", raw, ours, number=5_000, target=None
        )
    finally:
        detach(outer)
    reset_default_telemetry(None)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def price_lookup() -> None:
    small = PriceTable.from_mapping({f"m{i}": {"input": 1, "output": 2} for i in range(10)})
    large = PriceTable.from_mapping({f"m{i}": {"input": 1, "output": 2} for i in range(100_000)})
    compare(
        "price lookup: 100,000 models vs 10 (O(1))",
        lambda: small.price("m7"),
        lambda: large.price("m77777"),
        number=200_000,
        target=None,
    )


def main() -> None:
    model_calls()
    price_lookup()


if __name__ == "__main__":
    main()
