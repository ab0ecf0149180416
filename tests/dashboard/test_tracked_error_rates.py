"""Agents' tracked error rates reach the system when no requests were counted.

An agent may report its error rate (``record_metric("error_rate", ...)``) without the
requests and errors behind it; the system's error rate is then the mean of those rates, and
costs health points by the formula of docs/dashboard.md (``errors = min(error_cap,
error_weight x rate)``). Dropping it would show a failing system as healthy.
"""

from __future__ import annotations

from typing import Any

import pytest

from otel_agents._health import HealthWeights
from otel_agents._tracker import PerformanceTracker


def _error_penalty(rate: float, weights: HealthWeights) -> float:
    """The errors part of the health score, as docs/dashboard.md gives it."""
    return min(weights.error_cap, weights.error_weight * rate)


@pytest.mark.parametrize(
    ("rates", "system_rate"),
    [({"a": 50.0}, 50.0), ({"a": 10.0, "b": 20.0}, 15.0)],
    ids=["one-agent", "mean-of-two"],
)
def test_the_system_error_rate_is_the_mean_of_the_agents_tracked_rates(
    make_dashboard: Any, tracker: PerformanceTracker, rates: dict[str, float], system_rate: float
) -> None:
    for agent_id, rate in rates.items():
        tracker.record_metric("error_rate", rate, agent_id=agent_id)
    dashboard = make_dashboard(tracker)

    system = dashboard.get_dashboard_data()["system"]

    assert (system["requests"], system["errors"]) == (0, 0)
    assert system["error_rate_percent"] == pytest.approx(system_rate)
    penalty = _error_penalty(system_rate, HealthWeights())
    assert system["health"]["penalties"]["errors"] == pytest.approx(penalty)
    # CPU 40 % and memory 30 % cost nothing, nor do alerts or agents here: only the errors.
    assert system["health"]["penalties"]["resources"] == 0
    assert system["health_score"] == pytest.approx(100 - penalty)


def test_weights_change_the_penalty_of_a_tracked_error_rate(
    make_dashboard: Any, tracker: PerformanceTracker
) -> None:
    weights = HealthWeights(error_weight=0.5, error_cap=40.0)
    tracker.record_metric("error_rate", 50.0, agent_id="a")
    dashboard = make_dashboard(tracker, health_weights=weights)

    system = dashboard.get_dashboard_data()["system"]

    assert system["health"]["penalties"]["errors"] == pytest.approx(_error_penalty(50.0, weights))
    assert system["health"]["penalties"]["errors"] == pytest.approx(25.0)


def test_without_rates_or_requests_the_error_rate_is_unknown_and_costs_nothing(
    make_dashboard: Any, tracker: PerformanceTracker
) -> None:
    tracker.record_metric("response_time", 0.5, agent_id="a")
    dashboard = make_dashboard(tracker)

    system = dashboard.get_dashboard_data()["system"]

    assert system["error_rate_percent"] is None
    assert system["health"]["penalties"]["errors"] == 0
