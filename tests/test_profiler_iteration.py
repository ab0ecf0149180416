"""Profiled generators cover their iteration; cancellation and Ctrl-C are not errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Generator, Iterator

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from otel_agents import semconv
from otel_agents._profiler import PerformanceProfiler
from otel_agents.testing import TelemetryCapture

DURATION = semconv.AGENT_PROFILE_DURATION.name
STEP = 0.02  # seconds each item takes; durations are only checked from below


class AgentFailure(Exception):
    """A failure raised by profiled code in these tests."""


def _tracer(telemetry: TelemetryCapture) -> trace.Tracer:
    return telemetry.tracer_provider.get_tracer("test")


# --------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------
def test_a_generator_span_covers_the_iteration_not_the_call(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    tracer = _tracer(telemetry)

    @profiler.profile_function("stream")
    def stream(count: int) -> Iterator[int]:
        for number in range(count):
            with tracer.start_as_current_span("step"):
                time.sleep(STEP)
            yield number

    generator = stream(3)
    assert telemetry.spans("stream") == []  # creating it did no work
    consumed = []
    for number in generator:
        with tracer.start_as_current_span("consume"):
            consumed.append(number)
    assert consumed == [0, 1, 2]

    span = telemetry.span("stream")
    assert span.status.status_code is StatusCode.UNSET
    steps = telemetry.spans("step")
    assert len(steps) == 3
    assert all(step.parent is not None for step in steps)
    assert {step.parent.span_id for step in steps if step.parent} == {span.context.span_id}
    # The consumer's work is not inside the generator's span.
    assert all(c.parent is None for c in telemetry.spans("consume"))
    assert span.end_time is not None
    assert span.start_time is not None
    assert span.end_time - span.start_time >= 3 * STEP * 1e9
    (point,) = telemetry.points(DURATION)
    assert point.sum >= 3 * STEP


def test_an_exception_raised_while_iterating_is_recorded_and_reraised(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    @profiler.profile_function("stream")
    def stream() -> Iterator[int]:
        yield 1
        raise AgentFailure("second item failed")

    generator = stream()
    assert next(generator) == 1
    with pytest.raises(AgentFailure):
        next(generator)
    span = telemetry.span("stream")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes[semconv.ERROR_TYPE] == "AgentFailure"
    assert [event.name for event in span.events] == ["exception"]


def test_a_generator_closed_early_ends_its_span_without_error(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    cleaned_up = []

    @profiler.profile_function("stream")
    def stream() -> Iterator[int]:
        try:
            yield from range(100)
        finally:
            cleaned_up.append(True)

    for number in stream():
        if number == 2:
            break
    assert cleaned_up == [True]  # close() reached the wrapped generator
    span = telemetry.span("stream")
    assert span.status.status_code is StatusCode.UNSET
    assert semconv.ERROR_TYPE not in (span.attributes or {})
    (point,) = telemetry.points(DURATION)
    assert semconv.ERROR_TYPE not in point.attributes


def test_send_throw_and_the_return_value_pass_through(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    @profiler.profile_function("echo")
    def echo() -> Generator[str, str, str]:
        received = yield "ready"
        try:
            yield f"got {received}"
        except AgentFailure:
            yield "recovered"
        return "done"

    generator = echo()
    assert next(generator) == "ready"
    assert generator.send("ping") == "got ping"
    assert generator.throw(AgentFailure("handled inside")) == "recovered"
    with pytest.raises(StopIteration) as stop:
        next(generator)
    assert stop.value.value == "done"
    assert telemetry.span("echo").status.status_code is StatusCode.UNSET


# --------------------------------------------------------------------------------------
# Async generators
# --------------------------------------------------------------------------------------
def test_an_async_generator_span_covers_the_iteration(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    tracer = _tracer(telemetry)

    @profiler.profile_function("chunks")
    async def chunks(count: int) -> AsyncIterator[int]:
        for number in range(count):
            with tracer.start_as_current_span("step"):
                await asyncio.sleep(STEP)
            yield number

    async def consume() -> list[int]:
        generator = chunks(3)
        assert telemetry.spans("chunks") == []
        return [number async for number in generator]

    assert asyncio.run(consume()) == [0, 1, 2]
    span = telemetry.span("chunks")
    steps = telemetry.spans("step")
    assert {step.parent.span_id for step in steps if step.parent} == {span.context.span_id}
    assert len(steps) == 3
    assert span.end_time is not None
    assert span.start_time is not None
    assert span.end_time - span.start_time >= 3 * STEP * 1e9


def test_an_async_generator_failure_is_recorded_and_an_early_break_is_not(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    @profiler.profile_function("failing")
    async def failing() -> AsyncIterator[int]:
        yield 1
        raise AgentFailure("stream broke")

    @profiler.profile_function("endless")
    async def endless() -> AsyncIterator[int]:
        number = 0
        while True:
            yield number
            number += 1

    async def consume() -> None:
        with pytest.raises(AgentFailure):
            async for _ in failing():
                pass
        generator = endless()
        async for number in generator:
            if number == 2:
                break
        await generator.aclose()

    asyncio.run(consume())
    assert telemetry.span("failing").status.status_code is StatusCode.ERROR
    endless_span = telemetry.span("endless")
    assert endless_span.status.status_code is StatusCode.UNSET
    assert semconv.ERROR_TYPE not in (endless_span.attributes or {})


# --------------------------------------------------------------------------------------
# Cancellation and Ctrl-C are not errors
# --------------------------------------------------------------------------------------
def test_a_cancelled_coroutine_is_not_an_error(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    @profiler.profile_function("wait")
    async def wait() -> None:
        await asyncio.sleep(60)

    async def cancel() -> None:
        task = asyncio.ensure_future(wait())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel())
    span = telemetry.span("wait")
    assert span.status.status_code is StatusCode.UNSET
    assert span.events == ()
    (point,) = telemetry.points(DURATION)
    assert semconv.ERROR_TYPE not in point.attributes
    assert profiler.get_profiling_summary()["profiles"]["wait"]["errors"] == 0


def test_keyboard_interrupt_is_reraised_but_not_an_error(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    @profiler.profile_function("interactive")
    def interactive() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interactive()
    span = telemetry.span("interactive")
    assert span.status.status_code is StatusCode.UNSET
    assert semconv.ERROR_TYPE not in (span.attributes or {})


def test_a_cancelled_async_with_block_is_not_an_error(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    async def block() -> None:
        async with profiler.profile("block"):
            await asyncio.sleep(60)

    async def cancel() -> None:
        task = asyncio.ensure_future(block())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel())
    assert telemetry.span("block").status.status_code is StatusCode.UNSET
