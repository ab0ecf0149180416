"""The system error rate: the agents' and the gateway's counts over the same window, 0-100 %.

The gateway reports lifetime (cumulative) totals; the dashboard counts their change over its
``window_seconds``, so an outage long past no longer weighs on today's error rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider

from otel_agents import semconv
from otel_agents._inprocess import InProcessMetrics
from otel_agents._runtime import as_clock
from otel_agents._tracker import PerformanceTracker
from tests.dashboard.conftest import FakeClock, SteppedClock

WINDOW = 300.0


class GatewayCounts:
    """The gateway's observable request counter, by status class, with totals set by hand."""

    def __init__(self, provider: MeterProvider) -> None:
        self.ok = 0
        self.failed = 0
        self.reported = True  # False: the callback reports no series (as a failed reading)
        meter = provider.get_meter("fake-gateway")
        semconv.create_instrument(meter, semconv.GATEWAY_REQUESTS, [self._observe])

    def _observe(self, options: CallbackOptions) -> Iterable[Observation]:
        if not self.reported:
            return
        service = {semconv.GATEWAY_SERVICE_ID: "svc"}
        yield Observation(self.ok, {**service, semconv.GATEWAY_STATUS_CLASS: "2xx"})
        yield Observation(self.failed, {**service, semconv.GATEWAY_STATUS_CLASS: "5xx"})


@pytest.fixture
def reader() -> Iterator[tuple[InProcessMetrics, MeterProvider]]:
    reader = InProcessMetrics()
    provider = MeterProvider(metric_readers=[reader])
    yield reader, provider
    provider.shutdown()


@pytest.fixture
def clocked_tracker(clock: FakeClock, reader: Any) -> Iterator[PerformanceTracker]:
    tracker = PerformanceTracker(
        {"snapshot_interval": 0}, meter_provider=reader[1], clock=as_clock(clock)
    )
    yield tracker
    tracker.stop()


def _dashboard(make_dashboard: Any, tracker: PerformanceTracker, reader: Any) -> Any:
    return make_dashboard(
        tracker,
        config={"default_alert_rules": False, "window_seconds": WINDOW},
        metrics_reader=reader[0],
    )


def test_gateway_errors_count_only_within_the_window(
    make_dashboard: Any, clocked_tracker: PerformanceTracker, reader: Any, clock: FakeClock
) -> None:
    gateway = GatewayCounts(reader[1])
    dashboard = _dashboard(make_dashboard, clocked_tracker, reader)
    gateway.ok, gateway.failed = 50, 50  # an outage, just after the dashboard started
    clock.advance(10)
    system = dashboard.get_dashboard_data()["system"]
    assert (system["requests"], system["errors"], system["error_rate_percent"]) == (100, 50, 50.0)

    clock.advance(WINDOW + 100)  # a quiet gateway since, and healthy agents
    clocked_tracker.record_metric("request_count", 100, agent_id="a1")
    clocked_tracker.record_metric("error_count", 0, agent_id="a1")
    system = dashboard.get_dashboard_data()["system"]

    assert (system["requests"], system["errors"], system["error_rate_percent"]) == (100, 0, 0.0)
    assert system["gateway_requests"] == 0
    assert system["health_score"] == 100.0


def test_gateway_totals_from_before_the_dashboard_are_not_in_its_window(
    make_dashboard: Any, clocked_tracker: PerformanceTracker, reader: Any, clock: FakeClock
) -> None:
    gateway = GatewayCounts(reader[1])
    gateway.ok, gateway.failed = 50, 50  # a day ago, as far as anyone can tell
    dashboard = _dashboard(make_dashboard, clocked_tracker, reader)
    clocked_tracker.record_metric("request_count", 100, agent_id="a1")
    clocked_tracker.record_metric("error_count", 0, agent_id="a1")

    data = dashboard.get_dashboard_data()

    assert data["system"]["error_rate_percent"] == 0.0
    assert data["system"]["health"]["penalties"]["errors"] == 0.0
    assert data["telemetry"]["gateway"]["errors"] == 50  # lifetime totals stay in telemetry


def test_the_system_error_rate_never_passes_100_percent(
    make_dashboard: Any, clocked_tracker: PerformanceTracker, reader: Any
) -> None:
    clocked_tracker.record_metric("request_count", 1, agent_id="a1")
    clocked_tracker.record_metric("error_count", 5, agent_id="a1")  # retries counted as errors

    system = _dashboard(make_dashboard, clocked_tracker, reader).get_dashboard_data()["system"]

    assert system["error_rate_percent"] == 100.0


def test_a_gateway_that_restarts_counts_its_new_requests_and_errors(
    make_dashboard: Any, clocked_tracker: PerformanceTracker, reader: Any, clock: FakeClock
) -> None:
    """A replaced gateway starts its counts again from 0. The window compared the new, lower
    totals with the old ones: 1,000 requests before the restart hid the 100 after it, while
    the 50 errors (a series that had been 0) still counted: 50 errors of 0 requests."""
    gateway = GatewayCounts(reader[1])
    dashboard = _dashboard(make_dashboard, clocked_tracker, reader)
    gateway.ok = 1000  # served after the dashboard started, all fine
    clock.advance(10)
    assert dashboard.get_dashboard_data()["system"]["gateway_requests"] == 1000

    gateway.ok, gateway.failed = 50, 50  # restarted, then an outage: lifetime totals from 0
    clock.advance(10)
    system = dashboard.get_dashboard_data()["system"]

    assert (system["gateway_requests"], system["requests"], system["errors"]) == (1100, 1100, 50)
    assert system["error_rate_percent"] == round(100 * 50 / 1100, 3)


def test_a_total_that_goes_down_takes_nothing_back_from_the_window(
    make_dashboard: Any, clocked_tracker: PerformanceTracker, reader: Any, clock: FakeClock
) -> None:
    """Requests counted stay counted when their series is reported lower (a restart)."""
    gateway = GatewayCounts(reader[1])
    dashboard = _dashboard(make_dashboard, clocked_tracker, reader)
    gateway.ok, gateway.failed = 90, 10
    clock.advance(10)
    dashboard.get_dashboard_data()
    gateway.failed = 0  # reported as 0: a drop to 0 is a restart with nothing new
    clock.advance(10)
    system = dashboard.get_dashboard_data()["system"]
    assert (system["requests"], system["errors"]) == (100, 10)


def test_a_series_missing_from_one_reading_does_not_count_its_lifetime_again(
    make_dashboard: Any, clocked_tracker: PerformanceTracker, reader: Any, clock: FakeClock
) -> None:
    """A reading without a series (a collection that failed reads as empty, see
    ``InProcessMetrics.snapshot``) is a gap, not a restart: when the series is back, it is
    compared with its last value, as Prometheus' ``increase()`` does across a gap. Compared
    with 0, an outage from before the dashboard (500 errors) came back as new."""
    gateway = GatewayCounts(reader[1])
    gateway.ok, gateway.failed = 1000, 500  # before the dashboard: not in its window
    dashboard = _dashboard(make_dashboard, clocked_tracker, reader)
    gateway.reported = False
    clock.advance(10)
    dashboard.get_dashboard_data()
    gateway.reported, gateway.ok = True, 1010
    clock.advance(10)
    system = dashboard.get_dashboard_data()["system"]
    assert (system["gateway_requests"], system["errors"]) == (10, 0)


def test_a_wall_clock_step_back_does_not_keep_an_old_outage_in_the_window(
    make_dashboard: Any, reader: Any
) -> None:
    """The window was measured on the wall clock: stepped back an hour, it spanned an hour
    and five minutes, and an outage 410 s ago (window 300 s) still made a 50 % error rate."""
    clock = SteppedClock()
    gateway = GatewayCounts(reader[1])
    dashboard = make_dashboard(
        config={"default_alert_rules": False, "window_seconds": WINDOW},
        metrics_reader=reader[0],
        clock=clock,
    )
    gateway.ok, gateway.failed = 50, 50
    clock.advance(10)
    assert dashboard.get_dashboard_data()["system"]["errors"] == 50
    clock.wall -= 3600.0
    clock.advance(400)

    system = dashboard.get_dashboard_data()["system"]

    assert (system["gateway_requests"], system["errors"], system["error_rate_percent"]) == (
        0,
        0,
        None,
    )
