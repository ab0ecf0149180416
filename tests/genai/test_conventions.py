"""Every GenAI name we emit, pinned against the values the installed packages publish:
``opentelemetry-semantic-conventions`` (the ``gen_ai.*`` registry, now maintained in
open-telemetry/semantic-conventions-genai) and ``opentelemetry-util-genai`` (the
instruments and the content switch the official instrumentations use)."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
from opentelemetry.semconv.attributes import error_attributes, server_attributes
from opentelemetry.util.genai import instruments as util_instruments
from opentelemetry.util.genai.types import ContentCapturingMode
from opentelemetry.util.genai.utils import get_content_capturing_mode

from otel_agents import semconv as sc
from otel_agents.genai._content import capture_content_on_spans

ATTRIBUTES = [
    "GEN_AI_AGENT_ID",
    "GEN_AI_AGENT_NAME",
    "GEN_AI_CONVERSATION_ID",
    "GEN_AI_INPUT_MESSAGES",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_OUTPUT_MESSAGES",
    "GEN_AI_PROVIDER_NAME",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_RESPONSE_FINISH_REASONS",
    "GEN_AI_RESPONSE_ID",
    "GEN_AI_RESPONSE_MODEL",
    "GEN_AI_SYSTEM",
    "GEN_AI_TOKEN_TYPE",
    "GEN_AI_TOOL_CALL_ID",
    "GEN_AI_TOOL_NAME",
    "GEN_AI_TOOL_TYPE",
    "GEN_AI_USAGE_INPUT_TOKENS",
    "GEN_AI_USAGE_OUTPUT_TOKENS",
]


@pytest.mark.parametrize("name", ATTRIBUTES)
def test_attribute_keys_are_the_registrys(name: str) -> None:
    assert getattr(sc, name) == getattr(GenAI, name)


def test_every_gen_ai_constant_of_ours_is_pinned_here() -> None:
    ours = {n for n, v in vars(sc).items() if isinstance(v, str) and v.startswith("gen_ai.")}
    assert ours == set(ATTRIBUTES)


def test_other_attribute_keys_are_the_registrys() -> None:
    assert sc.ERROR_TYPE == error_attributes.ERROR_TYPE
    assert sc.SERVER_ADDRESS == server_attributes.SERVER_ADDRESS
    assert sc.SERVER_PORT == server_attributes.SERVER_PORT


def test_well_known_values_are_the_registrys() -> None:
    operations = GenAI.GenAiOperationNameValues
    assert operations.CHAT.value == sc.GEN_AI_OPERATION_CHAT
    assert operations.INVOKE_AGENT.value == sc.GEN_AI_OPERATION_INVOKE_AGENT
    assert operations.EXECUTE_TOOL.value == sc.GEN_AI_OPERATION_EXECUTE_TOOL
    assert operations.TEXT_COMPLETION.value == sc.GEN_AI_OPERATION_TEXT_COMPLETION
    assert operations.GENERATE_CONTENT.value == sc.GEN_AI_OPERATION_GENERATE_CONTENT
    assert operations.EMBEDDINGS.value == sc.GEN_AI_OPERATION_EMBEDDINGS
    assert GenAI.GenAiTokenTypeValues.INPUT.value == sc.GEN_AI_TOKEN_TYPE_INPUT
    assert GenAI.GenAiTokenTypeValues.OUTPUT.value == sc.GEN_AI_TOKEN_TYPE_OUTPUT
    # The span names follow "{gen_ai.operation.name} {name}".
    assert sc.GEN_AI_INVOKE_AGENT_SPAN.startswith(operations.INVOKE_AGENT.value + " ")
    assert sc.GEN_AI_EXECUTE_TOOL_SPAN.startswith(operations.EXECUTE_TOOL.value + " ")


def _recorded(create: Any) -> Any:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    try:
        create(provider.get_meter("pin")).record(1)
        data = reader.get_metrics_data()
        assert data is not None
        (metric,) = data.resource_metrics[0].scope_metrics[0].metrics
        return metric
    finally:
        provider.shutdown()


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (sc.GEN_AI_CLIENT_TOKEN_USAGE, util_instruments.create_token_histogram),
        (sc.GEN_AI_CLIENT_OPERATION_DURATION, util_instruments.create_duration_histogram),
    ],
    ids=lambda value: getattr(value, "name", ""),
)
def test_histograms_match_the_util_genai_instruments(ours: sc.MetricSpec, theirs: Any) -> None:
    """Same name, unit and bucket boundaries as the official instrumentations record."""
    mine = _recorded(lambda meter: sc.create_instrument(meter, ours))
    official = _recorded(theirs)
    assert mine.name == official.name
    assert mine.unit == official.unit
    assert tuple(mine.data.data_points[0].explicit_bounds) == tuple(
        official.data.data_points[0].explicit_bounds
    )
    assert ours.name in {
        gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE,
        gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION,
    }


@pytest.mark.parametrize(
    "value", ["", "NO_CONTENT", "span_only", "SPAN_AND_EVENT", "EVENT_ONLY", "bogus"]
)
def test_the_content_switch_reads_like_util_genai(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", value)
    theirs = get_content_capturing_mode() in (
        ContentCapturingMode.SPAN_ONLY,
        ContentCapturingMode.SPAN_AND_EVENT,
    )
    assert capture_content_on_spans() is theirs
