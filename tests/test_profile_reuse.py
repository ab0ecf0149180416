"""One ``profiler.profile(...)`` object entered again before it is exited.

A module-level ``step = profiler.profile("step")`` shared by concurrent tasks or threads, or
nested in itself: each entry gets its own span and profile, and its context token is
detached in the context that attached it (it used to keep one state: the first entry's span
never ended and a token was detached in the wrong context).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading

import pytest
from opentelemetry import trace

from otel_agents._profiler import PerformanceProfiler
from otel_agents.testing import TelemetryCapture

#: Generous bound on any wait in these tests (they finish in milliseconds).
DEADLINE = 10.0


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_two_overlapping_async_blocks_on_one_object_each_end_their_own_span(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler, caplog: pytest.LogCaptureFixture
) -> None:
    """The first task exits while the second is still inside the same block object."""
    step = profiler.profile("step", {"operation": "x"})
    tracer = telemetry.tracer_provider.get_tracer("tests")

    async def main() -> None:
        second_entered, first_exited = asyncio.Event(), asyncio.Event()

        async def first() -> None:
            async with step:
                tracer.start_span("inside first").end()
                await asyncio.wait_for(second_entered.wait(), DEADLINE)
            first_exited.set()

        async def second() -> None:
            async with step:
                second_entered.set()
                await asyncio.wait_for(first_exited.wait(), DEADLINE)
                tracer.start_span("inside second").end()

        await asyncio.wait_for(asyncio.gather(first(), second()), DEADLINE)

    with caplog.at_level(logging.ERROR):
        asyncio.run(main())

    steps = telemetry.spans("step")
    assert len(steps) == 2
    assert len({s.context.span_id for s in steps}) == 2
    assert all(s.parent is None for s in steps)
    # Each task's own span was current inside its block, and is the parent of its child.
    first_step = telemetry.span("inside first").parent
    second_step = telemetry.span("inside second").parent
    assert first_step is not None
    assert second_step is not None
    assert {first_step.span_id, second_step.span_id} == {s.context.span_id for s in steps}
    assert [r.name for r in profiler.history.select(None)] == ["step", "step"]
    assert _errors(caplog) == []
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_an_object_nested_in_itself_ends_both_spans_inner_first(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    step = profiler.profile("step")
    with step:
        with step:
            pass
        assert len(telemetry.spans("step")) == 1
    inner, outer = telemetry.spans("step")
    assert inner.parent is not None
    assert inner.parent.span_id == outer.context.span_id
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_threads_sharing_one_object_each_end_their_own_span(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler, caplog: pytest.LogCaptureFixture
) -> None:
    step = profiler.profile("step")
    tracer = telemetry.tracer_provider.get_tracer("tests")
    threads_n = 4
    inside = threading.Barrier(threads_n, timeout=DEADLINE)
    failures: list[BaseException] = []

    def work(index: int) -> None:
        try:
            with step:
                inside.wait()  # every thread is inside the same object at once
                tracer.start_span(f"child {index}").end()
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(threads_n)]
    with caplog.at_level(logging.ERROR):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(DEADLINE)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    steps = {s.context.span_id for s in telemetry.spans("step")}
    assert len(steps) == threads_n
    parents = [telemetry.span(f"child {i}").parent for i in range(threads_n)]
    assert {p.span_id for p in parents if p is not None} == steps
    assert _errors(caplog) == []


def test_an_exit_in_another_context_still_ends_the_span(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    """Entered in one context and exited in another: the span ends rather than leaks."""
    step = profiler.profile("step")
    contextvars.copy_context().run(step.__enter__)
    step.__exit__(None, None, None)
    assert len(telemetry.spans("step")) == 1
    step.__exit__(None, None, None)  # nothing open any more: nothing happens
    assert len(telemetry.spans("step")) == 1
