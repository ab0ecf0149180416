"""``configure()`` and GenAI: the price file variable, the span processor, the providers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_agents
from otel_agents import genai, semconv as sc
from otel_agents.genai import ModelPrice, get_price_table, set_price_table
from otel_agents.genai._telemetry import reset_default_telemetry


@pytest.fixture
def quiet(quiet_configure: None) -> Iterator[None]:
    """``quiet_configure``, and the price table restored afterwards."""
    previous = get_price_table()
    try:
        yield
    finally:
        set_price_table(previous)


def test_configure_reads_the_price_file_and_records_into_its_providers(
    quiet: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text('{"house-model": {"input": 1, "output": 3}}', encoding="utf-8")
    monkeypatch.setenv("OTEL_AGENTS_GENAI_PRICES", str(prices))
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    otel_agents.configure(span_processors=[SimpleSpanProcessor(spans)], metric_readers=[reader])

    assert get_price_table().price("house-model") == ModelPrice(1.0, 3.0)
    with genai.invoke_agent("a"), genai.model_call("house-model", provider="local") as call:
        call.set_usage(1_000_000, 0)
    assert {s.name for s in spans.get_finished_spans()} == {"invoke_agent a", "chat house-model"}
    data = reader.get_metrics_data()
    assert data is not None
    costs = [
        point.value
        for rm in data.resource_metrics
        for scope in rm.scope_metrics
        for metric in scope.metrics
        if metric.name == sc.AGENT_MODEL_COST.name
        for point in metric.data.data_points
    ]
    assert costs == [pytest.approx(1.0)]


def test_configure_adds_the_span_processor_for_other_instrumentations(quiet: None) -> None:
    spans = InMemorySpanExporter()
    otel_agents.configure(span_processors=[SimpleSpanProcessor(spans)])
    tracer = trace.get_tracer("some.official.instrumentation")
    with genai.invoke_agent("writer", conversation_id="c-1"):
        tracer.start_span("chat x", attributes={sc.GEN_AI_OPERATION_NAME: "chat"}).end()
    (theirs,) = [s for s in spans.get_finished_spans() if s.name == "chat x"]
    assert (theirs.attributes or {})[sc.GEN_AI_AGENT_ID] == "writer"
    assert (theirs.attributes or {})[sc.GEN_AI_CONVERSATION_ID] == "c-1"


def test_a_bad_price_file_logs_a_warning_and_keeps_the_prices(
    quiet: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text('{"m": {"input": "cheap", "output": 1}}', encoding="utf-8")
    monkeypatch.setenv("OTEL_AGENTS_GENAI_PRICES", str(prices))
    before = get_price_table()
    with caplog.at_level(logging.WARNING, logger="otel_agents"):
        otel_agents.configure()
    assert get_price_table() is before
    assert any("model 'm': field 'input'" in r.getMessage() for r in caplog.records)


def test_a_price_file_that_cannot_be_parsed_at_all_never_leaves_configure_half_done(
    quiet: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Nesting deeper than the parser's recursion limit (a small file): configure() has
    set the global providers by then, so it must finish, warn and keep the prices."""
    prices = tmp_path / "prices.json"
    prices.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    monkeypatch.setenv("OTEL_AGENTS_GENAI_PRICES", str(prices))
    before = get_price_table()
    with caplog.at_level(logging.WARNING, logger="otel_agents"):
        telemetry = otel_agents.configure()
    assert otel_agents.get_telemetry() is telemetry
    assert get_price_table() is before
    assert any("OTEL_AGENTS_GENAI_PRICES" in r.getMessage() for r in caplog.records)


def test_conversations_recorded_before_and_after_configure_are_both_reported(
    quiet: None,
) -> None:
    """The SDK keeps the gauge callbacks registered first on a meter: the default recorder
    made after configure() must add to the totals those callbacks read."""
    reset_default_telemetry(None)
    with (
        genai.invoke_agent("a", conversation_id="conv-before-configure"),
        genai.model_call("gpt-4o", provider="openai") as call,
    ):
        call.set_usage(1, 1)
    reader = InMemoryMetricReader()
    otel_agents.configure(metric_readers=[reader])
    with (
        genai.invoke_agent("a", conversation_id="conv-after-configure"),
        genai.model_call("gpt-4o", provider="openai") as call,
    ):
        call.set_usage(1000, 1000)
    data = reader.get_metrics_data()
    assert data is not None
    tokens = {
        point.attributes[sc.GEN_AI_CONVERSATION_ID]: point.value
        for rm in data.resource_metrics
        for scope in rm.scope_metrics
        for metric in scope.metrics
        if metric.name == sc.AGENT_CONVERSATION_TOKENS.name
        for point in metric.data.data_points
    }
    assert tokens["conv-before-configure"] == 2
    assert tokens["conv-after-configure"] == 2000


def test_a_price_file_too_deeply_nested_to_parse_logs_a_warning_and_configure_goes_on(
    quiet: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """It raised RecursionError from configure() after the global providers were set."""
    prices = tmp_path / "prices.json"
    prices.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    monkeypatch.setenv("OTEL_AGENTS_GENAI_PRICES", str(prices))
    before = get_price_table()
    with caplog.at_level(logging.WARNING, logger="otel_agents"):
        otel_agents.configure()
    assert otel_agents.get_telemetry() is not None
    assert get_price_table() is before
    (warning,) = [r for r in caplog.records if "nested too deeply" in r.getMessage()]
    assert warning.getMessage().startswith(f"OTEL_AGENTS_GENAI_PRICES={str(prices)!r}")
