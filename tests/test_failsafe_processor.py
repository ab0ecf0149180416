"""configure(span_processors=...): a user's processor that raises never reaches the user's code."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_agents
from otel_agents._failsafe_processor import FailsafeSpanProcessor, failsafe_span_processor


class Raising(SpanProcessor):
    """Raises from every method the SDK calls."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        raise RuntimeError("on_start bug")

    def on_end(self, span: ReadableSpan) -> None:
        raise RuntimeError("processor bug")

    def shutdown(self) -> None:
        raise RuntimeError("shutdown bug")

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        raise RuntimeError("flush bug")


def _warnings(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.WARNING and text in r.getMessage()]


def test_a_raising_processor_leaves_the_profiled_call_and_later_processors_alone(
    quiet_configure: None, caplog: pytest.LogCaptureFixture
) -> None:
    spans = InMemorySpanExporter()
    otel_agents.configure(span_processors=[Raising(), SimpleSpanProcessor(spans)])
    profiler = otel_agents.PerformanceProfiler({"snapshot_interval": 0})

    @profiler.profile_function("work")
    def work() -> int:
        return 42

    with caplog.at_level(logging.WARNING, logger="otel_agents"):
        assert work() == 42
        assert work() == 42
    assert len(spans.get_finished_spans()) == 2
    assert len(_warnings(caplog, "processor bug")) == 1
    assert len(_warnings(caplog, "on_start bug")) == 1
    assert "Raising.on_end" in _warnings(caplog, "processor bug")[0].getMessage()


def test_each_method_of_the_wrapped_processor_is_guarded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    guarded = failsafe_span_processor(Raising())
    provider.add_span_processor(guarded)
    provider.add_span_processor(SimpleSpanProcessor(spans))
    with caplog.at_level(logging.WARNING, logger="otel_agents"):
        with provider.get_tracer("tests").start_as_current_span("block"):
            pass
        assert guarded.force_flush(10) is False
        guarded.shutdown()
    assert [s.name for s in spans.get_finished_spans()] == ["block"]
    for text in ("on_start bug", "processor bug", "flush bug", "shutdown bug"):
        assert len(_warnings(caplog, text)) == 1, text
    provider.shutdown()


def test_a_processor_is_wrapped_once_and_a_working_one_works_as_before() -> None:
    spans = InMemorySpanExporter()
    inner = SimpleSpanProcessor(spans)
    guarded = failsafe_span_processor(inner)
    assert isinstance(guarded, FailsafeSpanProcessor)
    assert guarded.wrapped is inner
    assert failsafe_span_processor(guarded) is guarded
    provider = TracerProvider()
    provider.add_span_processor(guarded)
    provider.get_tracer("tests").start_span("one").end()
    assert guarded.force_flush(10) is True
    assert [s.name for s in spans.get_finished_spans()] == ["one"]
    provider.shutdown()


class RaisingPerSpan(SpanProcessor):
    """Raises from the same line for every span, with the span's name in the message."""

    def on_end(self, span: ReadableSpan) -> None:
        raise RuntimeError(f"cannot handle span {span.name}")


def test_an_error_whose_message_varies_is_still_one_error_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Once per distinct error means per type and place raised: keyed by message, a
    processor naming each span in its error logged a traceback for every span."""
    provider = TracerProvider()
    provider.add_span_processor(FailsafeSpanProcessor(RaisingPerSpan()))
    tracer = provider.get_tracer("test")
    with caplog.at_level(logging.WARNING, logger="otel_agents"):
        for n in range(2000):
            tracer.start_span(f"span {n}").end()
    logged = _warnings(caplog, "cannot handle span")
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    provider.shutdown()
