"""Integers too large for a float are refused with the error that names the parameter.

``math.isfinite(10**400)`` raises a bare ``OverflowError``; every check goes through
``is_real()`` first, so the caller gets the same ``InvalidValueError`` as for NaN.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from otel_agents._errors import InvalidValueError, invalid_value
from otel_agents._profiler import PerformanceProfiler
from otel_agents._tracker import PerformanceTracker
from otel_agents.testing import TelemetryCapture

HUGE = 10**400


@pytest.fixture
def tracker(telemetry: TelemetryCapture) -> Iterator[PerformanceTracker]:
    tracker = PerformanceTracker({"snapshot_interval": 0}, meter_provider=telemetry.meter_provider)
    yield tracker
    tracker.stop()


CALLS: list[Any] = [
    pytest.param(lambda t, p: t.record_metric("response_time", HUGE), "value", id="record"),
    pytest.param(lambda t, p: t.record_metric("request_count", -HUGE), "value", id="negative"),
    pytest.param(lambda t, p: t.get_metrics(time_range=HUGE), "time_range", id="get_metrics"),
    pytest.param(lambda t, p: p.record_metric("tokens", HUGE), "value", id="profiler record"),
    pytest.param(lambda t, p: p.get_profiling_summary(HUGE), "time_range", id="profiler summary"),
]


@pytest.mark.parametrize(("call", "parameter"), CALLS)
def test_an_int_too_large_for_a_float_raises_invalid_value_naming_the_parameter(
    tracker: PerformanceTracker,
    profiler: PerformanceProfiler,
    call: Callable[[PerformanceTracker, PerformanceProfiler], object],
    parameter: str,
) -> None:
    with pytest.raises(InvalidValueError, match=f"^{parameter}=-?1000"):
        call(tracker, profiler)

    assert tracker.get_metrics() == []
    assert profiler.get_profiling_summary()["custom_metrics"] == {}


def test_an_int_too_long_to_print_is_named_by_its_size() -> None:
    error = invalid_value("value", 10**5000, "a finite number")

    assert str(error).startswith("value=<an int of 16610 bits> is not valid")
