from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _clocks import TwoClocks
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from otel_agents._alerts import AlertManager
from otel_agents._dashboard import PerformanceDashboard
from otel_agents._tracker import PerformanceTracker
from otel_agents.testing import TelemetryCapture


class FakeClock:
    """Unix seconds, moved by hand."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


#: A wall clock that NTP can step, and a monotonic clock that only moves forward.
SteppedClock = TwoClocks


class LogCapture:
    """A LoggerProvider that keeps every log record in memory."""

    def __init__(self) -> None:
        self.exporter = InMemoryLogRecordExporter()
        self.provider = LoggerProvider()
        self.provider.add_log_record_processor(SimpleLogRecordProcessor(self.exporter))

    def records(self) -> list[ReadableLogRecord]:
        return list(self.exporter.get_finished_logs())


def fixed_resources() -> dict[str, float | None]:
    """The machine's CPU and memory as the tests want them: 40 % and 30 % (no penalty)."""
    return {"cpu_percent": 40.0, "memory_percent": 30.0}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    capture = LogCapture()
    yield capture
    capture.provider.shutdown()


@pytest.fixture
def manager(telemetry: TelemetryCapture, logs: LogCapture, clock: FakeClock) -> AlertManager:
    return AlertManager(
        clock=clock,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        logger_provider=logs.provider,
    )


@pytest.fixture
def tracker(telemetry: TelemetryCapture) -> Iterator[PerformanceTracker]:
    tracker = PerformanceTracker({"snapshot_interval": 0}, meter_provider=telemetry.meter_provider)
    yield tracker
    tracker.stop()


@pytest.fixture
def make_dashboard(
    telemetry: TelemetryCapture, logs: LogCapture, clock: FakeClock
) -> Iterator[Any]:
    """Build dashboards wired to the test's telemetry, logs, clock and fixed resources."""
    made: list[PerformanceDashboard] = []

    def make(*args: Any, **kwargs: Any) -> PerformanceDashboard:
        kwargs.setdefault("resource_reader", fixed_resources)
        kwargs.setdefault("clock", clock)
        dashboard = PerformanceDashboard(
            *args,
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
            logger_provider=logs.provider,
            **kwargs,
        )
        made.append(dashboard)
        return dashboard

    yield make
    for dashboard in made:
        dashboard.stop()
