"""Streaming answers: a scope inside a generator never restores a stale context when the
generator is dropped, and ``@genai.streaming`` keeps the scope's context inside the
generator (the consumer's code between items runs in its own context)."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry import context as otel_context, trace
from opentelemetry.trace import StatusCode

from otel_agents import genai, semconv as sc
from otel_agents._errors import InvalidTypeError
from otel_agents.genai import GenAITelemetry
from otel_agents.genai._context import current_attribution, in_model_call
from otel_agents.testing import TelemetryCapture


def _answer() -> Iterator[str]:
    with genai.model_call("cheap", provider="openai") as call:
        yield from ["a", "b", "c"]
        call.set_usage(10, 3)


def _started_in_agent(stream: Iterator[str]) -> Iterator[str]:
    """Start ``stream`` inside an agent's invocation, take one item, keep the rest."""
    with genai.invoke_agent("planner", conversation_id="req-1"):
        assert next(stream) == "a"
    return stream


def _later_call_is_clean(telemetry: TelemetryCapture) -> None:
    """A model call made afterwards on this thread: no agent, no conversation, no parent."""
    assert current_attribution().agent_id is None
    assert not in_model_call(otel_context.get_current())
    assert not trace.get_current_span().get_span_context().is_valid
    with genai.model_call("later", provider="openai"):
        pass
    later = telemetry.span("chat later")
    assert later.parent is None
    assert sc.GEN_AI_AGENT_ID not in (later.attributes or {})
    assert sc.GEN_AI_CONVERSATION_ID not in (later.attributes or {})


def test_a_dropped_generator_does_not_restore_a_stale_context_when_collected(
    telemetry: TelemetryCapture, recorder: GenAITelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    """Its model_call exited at garbage collection and reset the thread's context to the
    agent's of the old request: later calls were charged to it, parented to a dead span."""
    kept = _started_in_agent(_answer())
    with caplog.at_level(logging.WARNING, logger="otel_agents.genai"):
        del kept
        gc.collect()
    assert any("@genai.streaming" in r.getMessage() for r in caplog.records)
    chat = telemetry.span("chat cheap")
    assert (chat.attributes or {})[sc.ERROR_TYPE] == "GeneratorExit"
    _later_call_is_clean(telemetry)


def test_a_streaming_generator_keeps_its_context_inside(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    """Between items the consumer's span and attribution are its own; the call nests under
    the agent that started the stream and records its usage at the end."""
    stream = genai.streaming(_answer)()
    with genai.invoke_agent("planner", conversation_id="req-1"):
        assert next(stream) == "a"
        assert trace.get_current_span().name == "invoke_agent planner"  # type: ignore[attr-defined]
        assert not in_model_call(otel_context.get_current())
        with genai.execute_tool("search"):
            pass
        assert list(stream) == ["b", "c"]
    agent = telemetry.span("invoke_agent planner")
    tool = telemetry.span("execute_tool search")
    chat = telemetry.span("chat cheap")
    assert tool.parent is not None
    assert tool.parent.span_id == agent.context.span_id
    assert chat.parent is not None
    assert chat.parent.span_id == agent.context.span_id
    attributes = chat.attributes or {}
    assert attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 10
    assert attributes[sc.GEN_AI_CONVERSATION_ID] == "req-1"
    assert sc.ERROR_TYPE not in attributes
    assert chat.status.status_code is StatusCode.UNSET
    _later_call_is_clean(telemetry)


def test_a_dropped_streaming_generator_ends_its_call_as_cut_off_cleanly(
    telemetry: TelemetryCapture, recorder: GenAITelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    kept = _started_in_agent(genai.streaming(_answer)())
    with caplog.at_level(logging.WARNING, logger="otel_agents.genai"):
        del kept
        gc.collect()
    assert caplog.records == []  # its scope exited in its own context
    chat = telemetry.span("chat cheap")
    assert (chat.attributes or {})[sc.ERROR_TYPE] == "GeneratorExit"
    _later_call_is_clean(telemetry)


def test_values_and_exceptions_reach_the_wrapped_generator(recorder: GenAITelemetry) -> None:
    @genai.streaming
    def echo() -> Iterator[object]:
        received: object = None
        while True:
            try:
                received = yield received
            except KeyError:
                received = "caught"

    stream = echo()
    assert next(stream) is None
    assert stream.send(1) == 1
    assert stream.throw(KeyError()) == "caught"
    stream.close()


def test_an_async_streaming_generator_keeps_its_context_inside(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    @genai.streaming
    async def answer() -> AsyncIterator[str]:
        async with genai.model_call("cheap", provider="openai") as call:
            for word in ["a", "b"]:
                await asyncio.sleep(0)
                yield word
            call.set_usage(4, 2)

    async def main() -> list[str]:
        words = []
        async with genai.invoke_agent("planner"):
            async for word in answer():
                assert not in_model_call(otel_context.get_current())
                words.append(word)
        return words

    assert asyncio.run(main()) == ["a", "b"]
    chat = telemetry.span("chat cheap")
    assert (chat.attributes or {})[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 2
    agent = telemetry.span("invoke_agent planner")
    assert chat.parent is not None
    assert chat.parent.span_id == agent.context.span_id


def test_streaming_refuses_a_plain_function() -> None:
    with pytest.raises(InvalidTypeError, match=r"^func="):
        genai.streaming(len)  # type: ignore[call-overload]
