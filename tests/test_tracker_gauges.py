"""The tracker's gauges are exported while their reading is fresh, then the series ends.

A synchronous gauge re-exports its last value at every collection: an agent that reported
97% CPU once and went silent stayed at 97% in Prometheus and OtelAgentsAgentHighCpu never
resolved. ``gauge_max_age`` (300 s) bounds how long a reading is exported.
"""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
from _clocks import TwoClocks
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_agents import semconv
from otel_agents._errors import ConfigurationError
from otel_agents._latest import MAX_SERIES
from otel_agents._runtime import as_clock
from otel_agents._tracker import MetricType, PerformanceTracker

GAUGES = {
    MetricType.CPU_USAGE: "agent.cpu.usage",
    MetricType.MEMORY_USAGE: "agent.memory.usage",
    MetricType.THROUGHPUT: "agent.throughput",
    MetricType.ERROR_RATE: "agent.error.rate",
    MetricType.QUEUE_SIZE: "agent.queue.size",
}


class Clock:
    """A hand-moved wall clock for the tracker."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _points(reader: InMemoryMetricReader, name: str) -> dict[str, float]:
    """``{agent id: value}`` of the metric ``name`` in one collection."""
    data = reader.get_metrics_data()
    return {
        str(point.attributes[semconv.GEN_AI_AGENT_ID]): point.value
        for rm in (data.resource_metrics if data else ())
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == name
        for point in metric.data.data_points
    }


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def tracker(clock: Clock, reader: InMemoryMetricReader):
    provider = MeterProvider(metric_readers=[reader])
    tracker = PerformanceTracker(
        {"snapshot_interval": 0}, meter_provider=provider, clock=as_clock(clock)
    )
    yield tracker
    tracker.stop()
    provider.shutdown()


def test_a_cpu_reading_is_exported_until_it_is_older_than_the_limit(
    tracker: PerformanceTracker, clock: Clock, reader: InMemoryMetricReader
) -> None:
    tracker.record_metric("cpu_usage", 97.0, "batch")

    clock.now += 299.0
    assert _points(reader, "agent.cpu.usage") == {"batch": 97.0}
    clock.now += 2.0
    assert _points(reader, "agent.cpu.usage") == {}
    assert tracker.get_metrics("cpu_usage", "batch")[0].value == 97.0  # history keeps it


@pytest.mark.parametrize("metric_type", list(GAUGES))
def test_every_tracker_gauge_ends_a_silent_agent_series(
    tracker: PerformanceTracker,
    clock: Clock,
    reader: InMemoryMetricReader,
    metric_type: MetricType,
) -> None:
    tracker.record_metric(metric_type, 40.0, "silent")
    clock.now += 200.0
    tracker.record_metric(metric_type, 50.0, "busy")
    clock.now += 200.0  # silent: 400 s old, busy: 200 s

    assert _points(reader, GAUGES[metric_type]) == {"busy": 50.0}


def test_a_new_reading_revives_the_series_with_its_value(
    tracker: PerformanceTracker, clock: Clock, reader: InMemoryMetricReader
) -> None:
    tracker.record_metric("cpu_usage", 97.0, "batch")
    clock.now += 600.0
    assert _points(reader, "agent.cpu.usage") == {}

    tracker.record_metric("cpu_usage", 12.0, "batch")

    assert _points(reader, "agent.cpu.usage") == {"batch": 12.0}


def test_the_latest_reading_of_a_series_wins(
    tracker: PerformanceTracker, clock: Clock, reader: InMemoryMetricReader
) -> None:
    tracker.record_metric("queue_size", 7, "worker", {"operation": "plan"})
    clock.now += 1.0
    tracker.record_metric("queue_size", 3, "worker", {"operation": "plan"})

    data = reader.get_metrics_data()
    assert data is not None
    (metric,) = [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    (point,) = metric.data.data_points
    assert (metric.name, metric.unit, point.value) == ("agent.queue.size", "{item}", 3)
    assert dict(point.attributes) == {"gen_ai.agent.id": "worker", "agent.operation": "plan"}


def test_the_limit_is_a_setting(clock: Clock, reader: InMemoryMetricReader) -> None:
    provider = MeterProvider(metric_readers=[reader])
    tracker = PerformanceTracker(
        {"snapshot_interval": 0, "gauge_max_age": 30},
        meter_provider=provider,
        clock=as_clock(clock),
    )
    try:
        tracker.record_metric("error_rate", 40.0, "flaky")
        clock.now += 29.0
        assert _points(reader, "agent.error.rate") == {"flaky": 40.0}
        clock.now += 2.0
        assert _points(reader, "agent.error.rate") == {}
        assert tracker.config["gauge_max_age"] == 30.0
    finally:
        tracker.stop()
        provider.shutdown()


@pytest.mark.parametrize("bad", [0, -1, "300", True, float("nan")])
def test_a_limit_that_is_not_a_positive_number_is_refused(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="gauge_max_age"):
        PerformanceTracker({"snapshot_interval": 0, "gauge_max_age": bad})


def test_a_gauge_keeps_a_bounded_number_of_series(
    tracker: PerformanceTracker, reader: InMemoryMetricReader
) -> None:
    """Past MAX_SERIES agents, the series updated least recently is forgotten first."""
    for n in range(MAX_SERIES + 5):
        tracker.record_metric("memory_usage", n, f"agent-{n}")

    exported = _points(reader, "agent.memory.usage")
    assert len(exported) <= MAX_SERIES
    assert "agent-0" not in exported
    assert exported[f"agent-{MAX_SERIES + 4}"] == MAX_SERIES + 4


def test_recording_from_threads_while_collecting_loses_nothing(
    tracker: PerformanceTracker, reader: InMemoryMetricReader
) -> None:
    def record(worker: int) -> None:
        for n in range(300):
            tracker.record_metric("throughput", n, f"w{worker}-{n % 20}")

    threads = [threading.Thread(target=record, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(20):
        reader.get_metrics_data()
    for thread in threads:
        thread.join(timeout=30)

    assert not any(thread.is_alive() for thread in threads)
    assert len(_points(reader, "agent.throughput")) == 4 * 20


def test_two_trackers_on_one_provider_both_export(
    clock: Clock, reader: InMemoryMetricReader
) -> None:
    """An SDK meter keeps only the first callback of a name: the gauges are shared."""
    provider = MeterProvider(metric_readers=[reader])
    trackers = [
        PerformanceTracker({"snapshot_interval": 0}, meter_provider=provider, clock=as_clock(clock))
        for _ in range(2)
    ]
    try:
        trackers[0].record_metric("cpu_usage", 10.0, "a")
        trackers[1].record_metric("cpu_usage", 20.0, "b")

        assert _points(reader, "agent.cpu.usage") == {"a": 10.0, "b": 20.0}
    finally:
        for tracker in trackers:
            tracker.stop()
        provider.shutdown()


def test_a_dropped_tracker_stops_reporting(clock: Clock, reader: InMemoryMetricReader) -> None:
    provider = MeterProvider(metric_readers=[reader])
    tracker = PerformanceTracker(
        {"snapshot_interval": 0}, meter_provider=provider, clock=as_clock(clock)
    )
    tracker.record_metric("cpu_usage", 10.0, "a")
    gone = weakref.ref(tracker)
    tracker.stop()
    del tracker
    gc.collect()
    try:
        assert gone() is None
        assert _points(reader, "agent.cpu.usage") == {}
    finally:
        provider.shutdown()


#: Wall time that NTP steps while monotonic time moves on regularly.
SteppedClock = TwoClocks


@pytest.fixture
def stepped() -> SteppedClock:
    return SteppedClock()


@pytest.fixture
def stepped_tracker(stepped: SteppedClock, reader: InMemoryMetricReader):
    provider = MeterProvider(metric_readers=[reader])
    tracker = PerformanceTracker(
        {"snapshot_interval": 0, "gauge_max_age": 300}, meter_provider=provider, clock=stepped
    )
    yield tracker
    tracker.stop()
    provider.shutdown()


def test_a_wall_clock_step_back_does_not_keep_a_silent_agent_exported(
    stepped_tracker: PerformanceTracker, stepped: SteppedClock, reader: InMemoryMetricReader
) -> None:
    stepped_tracker.record_metric("cpu_usage", 97.0, "planner")
    assert _points(reader, "agent.cpu.usage") == {"planner": 97.0}

    stepped.wall -= 3600.0  # NTP steps the wall clock back an hour...
    stepped.mono += 301.0  # ...while 301 s really pass

    assert _points(reader, "agent.cpu.usage") == {}


def test_a_wall_clock_step_forward_does_not_drop_a_fresh_reading(
    stepped_tracker: PerformanceTracker, stepped: SteppedClock, reader: InMemoryMetricReader
) -> None:
    stepped_tracker.record_metric("cpu_usage", 40.0, "planner")

    stepped.wall += 3600.0  # NTP steps the wall clock forward an hour; 1 s really passes
    stepped.mono += 1.0

    assert _points(reader, "agent.cpu.usage") == {"planner": 40.0}
    # the history keeps wall-clock timestamps
    assert stepped_tracker.get_metrics("cpu_usage", "planner")[0].timestamp == 1_800_000_000.0
