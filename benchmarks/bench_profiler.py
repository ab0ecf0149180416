"""PerformanceProfiler overhead against the raw OpenTelemetry SDK, measured in the same run.

    .venv/bin/python benchmarks/bench_profiler.py

Targets (issue 2): a ``@profile_function`` call at most 1.1x the same work written by hand
on the SDK: ``start_span``, attach its context, the call, detach, end, then one
``Histogram.record`` (outside the span, as the profiler records it), "like for like". The
older baseline, ``start_as_current_span`` with the record inside the span, pays for a
generator context manager and an exemplar lookup that the profiler skips; it is printed
for reference. With profiling disabled, the decorator and ``with profile()`` at most 20x an
empty function call. The async decorator is compared with both baselines in an
``async def``. Printed, never asserted.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from opentelemetry.context import attach, detach
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, set_span_in_context

sys.path.insert(0, str(Path(__file__).parent))
from _compare import compare

from otel_agents import semconv
from otel_agents._profiler import PerformanceProfiler


class _Discard(InMemorySpanExporter):
    """Keeps nothing, so memory stays flat over hundreds of thousands of spans."""

    def export(self, spans: object) -> object:  # type: ignore[override]
        return super().export(())


def providers() -> tuple[TracerProvider, MeterProvider]:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(_Discard()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return tracer_provider, meter_provider


def enabled() -> None:
    tracer_provider, meter_provider = providers()
    profiler = PerformanceProfiler(
        {"snapshot_interval": 0}, tracer_provider=tracer_provider, meter_provider=meter_provider
    )
    tracer = tracer_provider.get_tracer("raw")
    histogram = meter_provider.get_meter("raw").create_histogram("raw.duration", unit="s")
    name = "plan"
    span_attributes = {
        semconv.AGENT_PROFILE_NAME: name,
        semconv.CODE_FUNCTION_NAME: f"{__name__}.work",
    }
    metric_attributes = {semconv.AGENT_PROFILE_NAME: name}
    perf_counter = time.perf_counter

    def work() -> int:
        return 1

    def raw() -> int:
        with tracer.start_as_current_span(name, kind=SpanKind.INTERNAL, attributes=span_attributes):
            started = perf_counter()
            result = work()
            histogram.record(perf_counter() - started, metric_attributes)
        return result

    def raw_like() -> int:
        # What the profiler does, by hand: start_span + attach, the call, detach, end, and
        # the record after the span (outside its context: no exemplar lookup).
        span = tracer.start_span(name, kind=SpanKind.INTERNAL, attributes=span_attributes)
        token = attach(set_span_in_context(span))
        started = perf_counter()
        try:
            result = work()
        except Exception as exc:
            span.record_exception(exc)
            raise
        finally:
            duration = perf_counter() - started
            detach(token)
            span.end()
            histogram.record(duration, metric_attributes)
        return result

    profiled = profiler.profile_function(name)(work)
    compare(
        "@profile_function call vs start_span + attach + record (like for like)",
        raw_like,
        profiled,
        number=5_000,
        target=1.1,
    )
    compare(
        "@profile_function call vs start_as_current_span + record",
        raw,
        profiled,
        number=5_000,
    )

    def raw_with() -> None:
        with tracer.start_as_current_span(
            name, kind=SpanKind.INTERNAL, attributes=metric_attributes
        ):
            started = perf_counter()
            histogram.record(perf_counter() - started, metric_attributes)

    def profiled_with() -> None:
        with profiler.profile(name):
            pass

    def raw_with_like() -> None:
        span = tracer.start_span(name, kind=SpanKind.INTERNAL, attributes=metric_attributes)
        token = attach(set_span_in_context(span))
        started = perf_counter()
        duration = perf_counter() - started
        detach(token)
        span.end()
        histogram.record(duration, metric_attributes)

    compare(
        "with profile() vs start_span + attach + record (like for like)",
        raw_with_like,
        profiled_with,
        number=5_000,
        target=1.1,
    )
    compare(
        "with profile() vs start_as_current_span + record",
        raw_with,
        profiled_with,
        number=5_000,
    )

    async def async_work() -> int:
        return 1

    async def async_raw() -> int:
        with tracer.start_as_current_span(name, kind=SpanKind.INTERNAL, attributes=span_attributes):
            started = perf_counter()
            result = await async_work()
            histogram.record(perf_counter() - started, metric_attributes)
        return result

    async def async_raw_like() -> int:
        span = tracer.start_span(name, kind=SpanKind.INTERNAL, attributes=span_attributes)
        token = attach(set_span_in_context(span))
        started = perf_counter()
        try:
            result = await async_work()
        except Exception as exc:
            span.record_exception(exc)
            raise
        finally:
            duration = perf_counter() - started
            detach(token)
            span.end()
            histogram.record(duration, metric_attributes)
        return result

    async_profiled = profiler.profile_function(name)(async_work)
    compare(
        "async @profile_function call vs raw async (like for like)",
        *_drive(async_raw_like, async_profiled),
        number=5_000,
        target=1.1,
    )
    compare(
        "async @profile_function call vs raw async start_as_current_span",
        *_drive(async_raw, async_profiled),
        number=5_000,
    )


def _drive(*coroutine_functions: Callable[[], object]) -> list[Callable[[], object]]:
    """Run each coroutine to completion without an event loop: nothing here ever suspends."""

    def runner(function: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            coroutine = function()
            try:
                coroutine.send(None)  # type: ignore[attr-defined]
            except StopIteration as done:
                return done.value
            raise RuntimeError("the coroutine suspended")

        return run

    return [runner(function) for function in coroutine_functions]


def disabled() -> None:
    tracer_provider, meter_provider = providers()
    profiler = PerformanceProfiler(
        {"profiling_enabled": False, "snapshot_interval": 0},
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )

    def empty() -> None:
        pass

    profiled = profiler.profile_function("plan")(empty)
    compare("disabled @profile_function vs empty call", empty, profiled, number=200_000, target=20)

    def disabled_with() -> None:
        with profiler.profile("plan"):
            pass

    compare(
        "disabled with profile() vs empty call", empty, disabled_with, number=200_000, target=20
    )


def main() -> None:
    enabled()
    disabled()


if __name__ == "__main__":
    main()
