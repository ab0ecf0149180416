"""What the dashboard's in-process reader costs each measurement, measured in the same run.

    .venv/bin/python benchmarks/bench_inprocess.py

The SDK aggregates every measurement once per registered MetricReader. The baseline is a
MeterProvider with the exporter's reader only (what ``configure()`` builds by default); the
candidate adds the :class:`~otel_agents._inprocess.InProcessMetrics` reader
(``configure(dashboard=True)``). A third line shows that a process that never asked pays
nothing: without the setting the provider is the baseline itself (ratio 1.00x by
construction), which is the point of making the reader opt-in.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

sys.path.insert(0, str(Path(__file__).parent))
from _compare import compare

from otel_agents import semconv
from otel_agents._inprocess import InProcessMetrics


def _counter_add(*readers: object) -> Callable[[], object]:
    provider = MeterProvider(metric_readers=list(readers))  # type: ignore[arg-type]
    counter = semconv.create_instrument(
        provider.get_meter("bench"), semconv.MESSAGING_CLIENT_SENT_MESSAGES
    )
    attributes = {semconv.MESSAGING_DESTINATION_NAME: "worker"}
    return lambda: counter.add(1, attributes)


def _histogram_record(*readers: object) -> Callable[[], object]:
    provider = MeterProvider(metric_readers=list(readers))  # type: ignore[arg-type]
    histogram = semconv.create_instrument(
        provider.get_meter("bench"), semconv.AGENT_PROFILE_DURATION
    )
    attributes = {semconv.AGENT_PROFILE_NAME: "plan_step"}
    return lambda: histogram.record(0.01, attributes)


def main() -> None:
    compare(
        "Counter.add: exporter reader + in-process reader vs exporter only",
        _counter_add(InMemoryMetricReader()),
        _counter_add(InMemoryMetricReader(), InProcessMetrics()),
    )
    compare(
        "Histogram.record: exporter reader + in-process reader vs exporter only",
        _histogram_record(InMemoryMetricReader()),
        _histogram_record(InMemoryMetricReader(), InProcessMetrics()),
    )
    compare(
        "Counter.add: no dashboard asked (configure() default) vs exporter only",
        _counter_add(InMemoryMetricReader()),
        _counter_add(InMemoryMetricReader()),
    )


if __name__ == "__main__":
    main()
