"""A model call or tool execution cut off (timeout, cancellation, a stream closed before its
end) did not complete: it carries ``error.type`` like a failure, on the span and the metrics.
An agent invocation cancelled stopped, it did not fail."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from opentelemetry.trace import StatusCode

from otel_agents import genai, semconv as sc
from otel_agents.genai import GenAITelemetry
from otel_agents.testing import TelemetryCapture


def _calls_error_types(telemetry: TelemetryCapture, metric: str) -> list[object]:
    return [p.attributes.get(sc.ERROR_TYPE) for p in telemetry.points(metric)]


def test_a_model_call_cut_off_by_asyncio_timeout_is_not_a_success(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    """The caller sees TimeoutError, unchanged; inside, the call ended by CancelledError."""

    async def main() -> None:
        async with asyncio.timeout(0), genai.model_call("cheap", provider="openai"):
            await asyncio.Event().wait()  # a provider that never answers

    with pytest.raises(TimeoutError):
        asyncio.run(main())
    span = telemetry.span("chat cheap")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})[sc.ERROR_TYPE] == "CancelledError"
    (duration,) = telemetry.points(sc.GEN_AI_CLIENT_OPERATION_DURATION.name)
    assert duration.attributes[sc.ERROR_TYPE] == "CancelledError"
    assert _calls_error_types(telemetry, sc.AGENT_MODEL_CALLS.name) == ["CancelledError"]


def test_a_cancelled_tool_execution_is_not_a_success(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    async def main() -> None:
        started = asyncio.Event()

        async def tool() -> None:
            async with genai.execute_tool("search"):
                started.set()
                await asyncio.Event().wait()

        task = asyncio.create_task(tool())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    span = telemetry.span("execute_tool search")
    assert (span.attributes or {})[sc.ERROR_TYPE] == "CancelledError"
    assert _calls_error_types(telemetry, sc.AGENT_TOOL_CALLS.name) == ["CancelledError"]


def test_a_stream_closed_before_its_end_is_not_a_success(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    """The consumer stops after the first chunk: the usage after the loop never comes."""

    def stream() -> Iterator[str]:
        with genai.model_call("cheap", provider="openai") as call:
            yield from ["a", "b", "c"]
            call.set_usage(10, 3)

    chunks = stream()
    assert next(chunks) == "a"
    chunks.close()
    span = telemetry.span("chat cheap")
    assert (span.attributes or {})[sc.ERROR_TYPE] == "GeneratorExit"
    assert _calls_error_types(telemetry, sc.AGENT_MODEL_CALLS.name) == ["GeneratorExit"]


def test_a_cancelled_agent_invocation_is_not_a_failure(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    async def main() -> None:
        async with asyncio.timeout(0), genai.invoke_agent("planner"):
            await asyncio.Event().wait()

    with pytest.raises(TimeoutError):
        asyncio.run(main())
    span = telemetry.span("invoke_agent planner")
    assert span.status.status_code is StatusCode.UNSET
    assert sc.ERROR_TYPE not in (span.attributes or {})
