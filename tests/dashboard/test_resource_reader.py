"""A user's ``resource_reader`` that returns bad data costs its reading, never the dashboard."""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest

from otel_agents._health import HealthInputs, health_score
from otel_agents._tracker import PerformanceTracker

CPU, MEMORY = "cpu_percent", "memory_percent"

BAD_READINGS = [
    # (reader, (cpu, memory) shown, records logged: one per bad key, once)
    pytest.param(lambda: None, (None, None), 1, id="None"),
    pytest.param(lambda: [40.0, 30.0], (None, None), 1, id="a list"),
    pytest.param(lambda: {CPU: "12.5", MEMORY: None}, (None, None), 1, id="str"),
    pytest.param(lambda: {CPU: math.nan, MEMORY: 10.0}, (None, 10.0), 1, id="NaN"),
    pytest.param(lambda: {CPU: 95.0, MEMORY: math.inf}, (95.0, None), 1, id="inf"),
    pytest.param(lambda: {CPU: True, MEMORY: 10**400}, (None, None), 2, id="bool"),
    pytest.param(lambda: {CPU: 20}, (20.0, None), 0, id="a missing key"),
]


@pytest.mark.parametrize(("reader", "expected", "records"), BAD_READINGS)
def test_a_bad_reading_is_unknown_and_logged_once(
    make_dashboard: Any,
    tracker: PerformanceTracker,
    caplog: pytest.LogCaptureFixture,
    reader: Any,
    expected: tuple[float | None, float | None],
    records: int,
) -> None:
    dashboard = make_dashboard(tracker, resource_reader=reader)
    with caplog.at_level(logging.ERROR, logger="otel_agents.dashboard"):
        for _ in range(3):
            system = dashboard.get_dashboard_data()["system"]
            assert (system["cpu_percent"], system["memory_percent"]) == expected
            assert 0.0 <= system["health_score"] <= 100.0

    logged = [r for r in caplog.records if "resource_reader" in r.getMessage()]
    assert len(logged) == records


def test_a_good_reading_is_used_as_it_is(make_dashboard: Any, tracker: PerformanceTracker) -> None:
    dashboard = make_dashboard(
        tracker, resource_reader=lambda: {"cpu_percent": 80, "memory_percent": 60.0}
    )

    system = dashboard.get_dashboard_data()["system"]

    assert (system["cpu_percent"], system["memory_percent"]) == (80, 60.0)
    assert system["health"]["penalties"]["resources"] == 16.0


def test_the_health_score_treats_inputs_that_are_not_finite_numbers_as_unknown() -> None:
    inputs = HealthInputs(cpu_percent="12.5", memory_percent=10**400)  # type: ignore[arg-type]

    score = health_score(inputs)

    assert (score.score, score.resources) == (100.0, 0.0)
