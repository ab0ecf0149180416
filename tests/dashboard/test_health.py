"""The health score formula at known inputs, and the agent.health.score gauge."""

from __future__ import annotations

import gc
import math

import pytest

from otel_agents import semconv
from otel_agents._errors import InvalidTypeError, InvalidValueError
from otel_agents._health import HealthInputs, HealthReporter, HealthWeights, health_score
from otel_agents.testing import TelemetryCapture


def test_nothing_known_scores_100() -> None:
    assert health_score(HealthInputs()).to_dict() == {
        "score": 100.0,
        "penalties": {"resources": 0.0, "alerts": 0.0, "availability": 0.0, "errors": 0.0},
    }


@pytest.mark.parametrize(
    ("inputs", "score"),
    [
        (HealthInputs(cpu_percent=50.0, memory_percent=50.0), 100.0),
        (HealthInputs(cpu_percent=75.0), 90.0),  # 0.4 * 25
        (HealthInputs(cpu_percent=100.0, memory_percent=100.0), 60.0),  # 20 + 20
        (HealthInputs(cpu_percent=150.0), 80.0),  # usage is clamped to 100 %
        (HealthInputs(alerts={"info": 3}), 100.0),
        (HealthInputs(alerts={"warning": 1, "error": 1}), 85.0),  # 5 + 10
        (HealthInputs(alerts={"critical": 3}), 60.0),  # 60, capped at 40
        (HealthInputs(agents_total=4, agents_available=3), 92.5),  # 30 * 1/4
        (HealthInputs(agents_total=2, agents_available=0), 70.0),
        (HealthInputs(error_rate_percent=7.5), 92.5),
        (HealthInputs(error_rate_percent=60.0), 80.0),  # capped at 20
    ],
)
def test_each_part_of_the_formula_at_known_inputs(inputs: HealthInputs, score: float) -> None:
    assert health_score(inputs).score == score


def test_all_parts_together_and_the_floor_at_zero() -> None:
    worst = HealthInputs(
        cpu_percent=100.0,
        memory_percent=100.0,
        alerts={"critical": 2},
        agents_total=1,
        agents_available=0,
        error_rate_percent=100.0,
    )
    result = health_score(worst)
    assert (result.resources, result.alerts, result.availability, result.errors) == (
        40.0,
        40.0,
        30.0,
        20.0,
    )
    assert result.score == 0.0
    mixed = HealthInputs(
        cpu_percent=80.0,
        memory_percent=60.0,
        alerts={"warning": 1},
        agents_total=3,
        agents_available=2,
        error_rate_percent=2.5,
    )
    # 100 - (12 + 4) - 5 - 10 - 2.5
    assert health_score(mixed).score == 66.5


def test_weights_change_the_formula() -> None:
    weights = HealthWeights(alert_points={"warning": 50.0}, alert_cap=50.0)
    assert health_score(HealthInputs(alerts={"warning": 1}), weights).score == 50.0


def test_bad_weights_are_refused() -> None:
    with pytest.raises(InvalidValueError, match="alert_points"):
        HealthWeights(alert_points={"fatal": 1.0})
    with pytest.raises(InvalidValueError, match="error_cap=-1"):
        HealthWeights(error_cap=-1)


def test_scores_are_reported_as_a_gauge_by_scope_and_agent(telemetry: TelemetryCapture) -> None:
    reporter = HealthReporter(
        lambda: (72.5, {"planner": 90.0}), meter_provider=telemetry.meter_provider
    )
    metric = telemetry.metric(semconv.AGENT_HEALTH_SCORE.name)
    assert metric.unit == "{score}"
    points = [(dict(p.attributes), p.value) for p in metric.data.data_points]
    assert points == [
        ({semconv.HEALTH_SCOPE: "system"}, 72.5),
        ({semconv.HEALTH_SCOPE: "agent", semconv.GEN_AI_AGENT_ID: "planner"}, 90.0),
    ]
    del reporter  # the gauge holds its reporters weakly: a dropped one stops reporting
    gc.collect()
    assert semconv.AGENT_HEALTH_SCORE.name not in telemetry.metrics()


def test_no_score_yet_reports_nothing(telemetry: TelemetryCapture) -> None:
    reporter = HealthReporter(lambda: (None, {}), meter_provider=telemetry.meter_provider)
    assert semconv.AGENT_HEALTH_SCORE.name not in telemetry.metrics()
    del reporter  # kept until here: the gauge holds it weakly


@pytest.mark.parametrize("field", ["resource_weight", "error_weight", "availability_weight"])
def test_an_infinite_weight_is_refused_naming_the_field(field: str) -> None:
    """inf * 0 is NaN: with an infinite weight a healthy input (CPU below resource_start, a
    0 % error rate, every agent available) scored 0 or cost the part's cap, and the JSON
    held NaN penalties. A weight multiplies an input, so it must be finite."""
    with pytest.raises(InvalidValueError, match=rf"{field}=inf .*a finite number of 0 or more"):
        HealthWeights(**{field: math.inf})  # type: ignore[arg-type]


def test_infinite_caps_and_start_mean_no_cap_and_no_resource_penalty() -> None:
    """Caps and the resource start are compared, never multiplied: infinity stays valid."""
    weights = HealthWeights(alert_cap=math.inf, error_cap=math.inf, resource_start=math.inf)
    inputs = HealthInputs(cpu_percent=100.0, alerts={"critical": 5}, error_rate_percent=30.0)
    assert health_score(inputs, weights).to_dict()["penalties"] == {
        "resources": 0.0,
        "alerts": 100.0,
        "availability": 0.0,
        "errors": 30.0,
    }


def test_an_infinite_alert_point_is_refused() -> None:
    """A level with no active alert cost the whole alert cap (inf * 0 alerts is NaN)."""
    with pytest.raises(InvalidValueError, match=r"alert_points\['warning'\]=inf"):
        HealthWeights(alert_points={"warning": math.inf})


def test_alert_points_that_are_not_a_mapping_are_refused_naming_the_field() -> None:
    with pytest.raises(InvalidTypeError, match=r"alert_points=\[.*a mapping of alert level"):
        HealthWeights(alert_points=[("warning", 5.0)])  # type: ignore[arg-type]
