"""``profiling_enabled`` is read when a ``profile()`` block is entered, not when it was made.

The docstring invites a kept ``step = profiler.profile("step")`` and says the flag can be
toggled; a block made while enabled used to go on recording after ``profiling_enabled =
False``, and one made while disabled recorded nothing after re-enabling.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace

from otel_agents import semconv
from otel_agents._profiler import PerformanceProfiler
from otel_agents.testing import TelemetryCapture

DEADLINE = 10.0  # generous bound on any wait (they finish in milliseconds)


def _counts(profiler: PerformanceProfiler) -> dict[str, int]:
    return {k: v["count"] for k, v in profiler.get_profiling_summary()["profiles"].items()}


def test_a_block_kept_from_while_enabled_records_nothing_once_disabled(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    step = profiler.profile("step")
    profiler.profiling_enabled = False

    with step:
        pass

    assert _counts(profiler) == {}
    assert telemetry.spans() == []
    assert semconv.AGENT_PROFILE_DURATION.name not in telemetry.metrics()


def test_a_block_kept_from_while_disabled_records_once_enabled(
    telemetry: TelemetryCapture,
) -> None:
    profiler = PerformanceProfiler(
        {"snapshot_interval": 0, "profiling_enabled": False},
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
    )
    step = profiler.profile("step", {"operation": "plan"})
    profiler.profiling_enabled = True

    async def run() -> None:
        async with step:
            pass

    with step:
        pass
    asyncio.run(run())

    assert _counts(profiler) == {"step": 2}
    assert [s.name for s in telemetry.spans()] == ["step", "step"]
    assert telemetry.spans()[0].attributes[semconv.AGENT_OPERATION] == "plan"


def test_toggling_between_nested_entries_of_one_block_pairs_every_exit(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler, caplog: pytest.LogCaptureFixture
) -> None:
    """Outer entry enabled, inner one disabled: the inner exit ends nothing, the outer
    exit ends its own span and restores the context it found."""
    step = profiler.profile("step")
    before = trace.get_current_span()
    with step:
        outer = trace.get_current_span()
        profiler.profiling_enabled = False
        with step:
            assert trace.get_current_span() is outer  # nothing started
        assert trace.get_current_span() is outer  # and the outer entry is still open
        profiler.profiling_enabled = True
        with step:
            assert trace.get_current_span() is not outer
    assert trace.get_current_span() is before

    assert [s.name for s in telemetry.spans()] == ["step", "step"]
    assert _counts(profiler) == {"step": 2}
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_an_enabled_entry_inside_a_disabled_one_ends_at_its_own_exit(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    step = profiler.profile("step")
    before = trace.get_current_span()
    profiler.profiling_enabled = False
    with step:
        profiler.profiling_enabled = True
        with step:
            assert trace.get_current_span() is not before
        assert [s.name for s in telemetry.spans()] == ["step"]  # ended here, not later
        assert trace.get_current_span() is before
    assert len(telemetry.spans()) == 1
    assert trace.get_current_span() is before


class _EntryInThread:
    """Thread A enters ``step`` and stays inside until :meth:`finish`; records the span
    current inside its entry and after its exit."""

    def __init__(self, step: Any) -> None:
        self.step = step
        self.entered, self._leave = threading.Event(), threading.Event()
        self.seen: list[Any] = []
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        with self.step:
            self.seen.append(trace.get_current_span())
            self.entered.set()
            assert self._leave.wait(DEADLINE)
        self.seen.append(trace.get_current_span())

    def start(self) -> None:
        self.thread.start()
        assert self.entered.wait(DEADLINE)

    def finish(self) -> None:
        self._leave.set()
        if self.thread.ident is not None:  # started
            self.thread.join(DEADLINE)
            assert not self.thread.is_alive()

    def assert_ended_its_own_span(self, telemetry: TelemetryCapture) -> None:
        """A's exit ended A's span (the only one) and restored A's context."""
        (span,) = telemetry.spans()
        assert span.context.span_id == self.seen[0].get_span_context().span_id
        assert self.seen[1] is not self.seen[0]


def test_a_disabled_entry_in_one_thread_never_ends_an_open_entry_of_another(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    """A shared block across a toggle: thread A's entry (enabled) is still open when
    thread B enters and leaves (disabled); A's exit ends A's span, in A's context."""
    step = profiler.profile("step")
    a = _EntryInThread(step)
    a.start()
    try:
        profiler.profiling_enabled = False
        with step:  # thread B (this one): disabled, and A's entry is open
            pass
        assert telemetry.spans() == []  # B's exit ended nothing of A's
    finally:
        a.finish()
    a.assert_ended_its_own_span(telemetry)


def test_profile_returns_a_block_of_its_own_per_call(profiler: PerformanceProfiler) -> None:
    """A ``with profiler.profile(name)`` ends its own span wherever its exit runs: blocks
    of one name are not shared between concurrent requests."""
    assert profiler.profile("a") is not profiler.profile("a")
    assert profiler.profile("a", {"operation": "x"}) is not profiler.profile("a")


def _stream(profiler: PerformanceProfiler) -> Iterator[str]:
    with profiler.profile("render"):
        yield "a"
        yield "b"


def _serve_in_context_copies(profiler: PerformanceProfiler) -> None:
    """Step a profiled generator one item at a time, each in a fresh context copy, as
    Starlette's ``StreamingResponse`` does (``iterate_in_threadpool``)."""
    stream = _stream(profiler)
    for _ in range(3):
        try:
            contextvars.copy_context().run(next, stream)
        except StopIteration:
            break


def test_a_generator_stepped_in_context_copies_ends_its_span_after_a_toggle(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler, caplog: pytest.LogCaptureFixture
) -> None:
    profiler.profiling_enabled = False
    with profiler.profile("render"):
        pass
    profiler.profiling_enabled = True
    for _ in range(20):
        _serve_in_context_copies(profiler)

    assert [s.name for s in telemetry.spans()] == ["render"] * 20  # every span ended
    assert _counts(profiler) == {"render": 20}
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []  # no detach errors
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_a_generator_exiting_in_a_context_copy_never_ends_another_threads_span(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler, caplog: pytest.LogCaptureFixture
) -> None:
    entered, generator_done = threading.Event(), threading.Event()
    after: list[object] = []

    def request_b() -> None:  # another request of the same name, on its own thread
        with profiler.profile("render"):
            entered.set()
            assert generator_done.wait(DEADLINE)
            assert telemetry.spans() == [] or len(telemetry.spans()) == 1
        after.append(trace.get_current_span())

    stream = _stream(profiler)
    contextvars.copy_context().run(next, stream)  # the generator enters "render"
    thread = threading.Thread(target=request_b)
    thread.start()
    try:
        assert entered.wait(DEADLINE)
        for _ in range(2):  # the next item, then the end: the generator exits "render"
            try:
                contextvars.copy_context().run(next, stream)
            except StopIteration:
                break
        assert len(telemetry.spans()) == 1  # the generator's own span, not B's
    finally:
        generator_done.set()
        thread.join(DEADLINE)
    assert not thread.is_alive()
    assert after == [trace.INVALID_SPAN]  # B's exit restored B's context
    assert len(telemetry.spans()) == 2
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_disabled_exit_never_ends_an_entry_another_thread_made_after_a_toggle(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    """B enters while disabled (nothing open: its entry goes unmarked), profiling is turned
    on, A enters in another thread and is still open when B leaves: B's exit ends nothing,
    and A's own exit ends A's span in A's context."""
    step = profiler.profile("step")
    a = _EntryInThread(step)
    profiler.profiling_enabled = False
    try:
        with step:  # thread B (this one): disabled, nothing of the block open
            profiler.profiling_enabled = True
            a.start()
        assert telemetry.spans() == []  # B's exit ended nothing of A's
    finally:
        a.finish()
    a.assert_ended_its_own_span(telemetry)
