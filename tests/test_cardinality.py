"""Metric cardinality: a flood of agent ids folds into ``otel.metric.overflow``, totals kept.

The SDK keeps at most ``limit`` attribute sets per metric stream; later sets are recorded on
one extra point whose only attribute is ``otel.metric.overflow=true``. Nothing is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from _support import MARKER, Probe, Probes, run_probes

from otel_agents import semconv
from otel_agents.testing import TelemetryCapture

LIMIT = 50
AGENTS = 500


def amount(i: int) -> int:
    """Not all ones, so a lost or double-counted point changes the total."""
    return i % 7 + 1


TOTAL = sum(amount(i) for i in range(AGENTS))


def overflow_points(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in points if p["attributes"].get(semconv.OTEL_METRIC_OVERFLOW) is True]


# --------------------------------------------------------------------------------------
# In-process, through TelemetryCapture(cardinality_limit=...)
# --------------------------------------------------------------------------------------
@pytest.fixture
def capture() -> Iterator[TelemetryCapture]:
    capture = TelemetryCapture(cardinality_limit=LIMIT)
    yield capture
    capture.shutdown()


def flood_counter(capture: TelemetryCapture) -> list[dict[str, Any]]:
    meter = capture.meter_provider.get_meter("test_cardinality")
    counter = semconv.create_instrument(meter, semconv.AGENT_REQUESTS)
    for i in range(AGENTS):
        counter.add(amount(i), {semconv.GEN_AI_AGENT_ID: f"agent-{i}"})
    return [
        {"attributes": dict(p.attributes or {}), "value": p.value}
        for p in capture.points(semconv.AGENT_REQUESTS.name)
    ]


def test_counter_flood_keeps_at_most_limit_plus_one_points(capture: TelemetryCapture) -> None:
    points = flood_counter(capture)
    assert len(points) <= LIMIT + 1


def test_counter_flood_folds_into_one_overflow_point(capture: TelemetryCapture) -> None:
    points = flood_counter(capture)
    (overflow,) = overflow_points(points)
    assert overflow["attributes"] == {semconv.OTEL_METRIC_OVERFLOW: True}


def test_counter_flood_preserves_the_total(capture: TelemetryCapture) -> None:
    points = flood_counter(capture)
    assert sum(p["value"] for p in points) == TOTAL


def test_agents_seen_before_the_limit_keep_their_own_points(capture: TelemetryCapture) -> None:
    points = flood_counter(capture)
    by_agent = {p["attributes"].get(semconv.GEN_AI_AGENT_ID): p["value"] for p in points}
    assert by_agent["agent-0"] == amount(0)
    assert by_agent["agent-10"] == amount(10)
    assert "agent-499" not in by_agent


def test_histogram_flood_preserves_the_count_and_sum(capture: TelemetryCapture) -> None:
    meter = capture.meter_provider.get_meter("test_cardinality")
    histogram = semconv.create_instrument(meter, semconv.AGENT_RESPONSE_DURATION)
    for i in range(AGENTS):
        histogram.record(0.25, {semconv.GEN_AI_AGENT_ID: f"agent-{i}"})
    points = capture.points(semconv.AGENT_RESPONSE_DURATION.name)
    assert len(points) <= LIMIT + 1
    assert sum(p.count for p in points) == AGENTS
    assert sum(p.sum for p in points) == pytest.approx(0.25 * AGENTS)
    overflow = [p for p in points if (p.attributes or {}).get(semconv.OTEL_METRIC_OVERFLOW)]
    assert len(overflow) == 1


def test_totals_stay_exact_across_collections(capture: TelemetryCapture) -> None:
    flood_counter(capture)
    counter = semconv.create_instrument(
        capture.meter_provider.get_meter("test_cardinality"), semconv.AGENT_REQUESTS
    )
    counter.add(5, {semconv.GEN_AI_AGENT_ID: "late-agent"})
    points = capture.points(semconv.AGENT_REQUESTS.name)
    assert sum(p.value for p in points) == TOTAL + 5
    assert len(points) <= LIMIT + 1


# --------------------------------------------------------------------------------------
# In a subprocess, through configure(cardinality_limit=...): the console exporter prints what
# it exports to the stdout it bound at import, which only a process of its own can read back.
# --------------------------------------------------------------------------------------
FLOOD = f"""
from otel_agents import semconv
counter = semconv.create_instrument(metrics.get_meter("probe"), semconv.AGENT_REQUESTS)
for i in range({AGENTS}):
    counter.add(i % 7 + 1, {{semconv.GEN_AI_AGENT_ID: f"agent-{{i}}"}})
sys.stdout.write("@@METRICS@@\\n")
telemetry.meter_provider.force_flush()  # the console exporter prints the collection
"""


SCENARIOS = {
    "argument": {
        "process": True,
        "env": {"OTEL_METRICS_EXPORTER": "console"},
        "kwargs": f"{{'cardinality_limit': {LIMIT}}}",
        "after": FLOOD,
    },
    "variable": {
        "process": True,
        "env": {"OTEL_METRICS_EXPORTER": "console", "OTEL_AGENTS_CARDINALITY_LIMIT": str(LIMIT)},
        "after": FLOOD,
    },
    "default": {"env": {"OTEL_METRICS_EXPORTER": "console"}, "after": FLOOD, "process": True},
}


@pytest.fixture(scope="module")
def probes() -> Probes:
    return run_probes(SCENARIOS)


def exported_points(probe: Probe) -> list[dict[str, Any]]:
    """The ``agent.requests`` points the console exporter printed after the flood."""
    exported = probe.stdout.split("@@METRICS@@\n", 1)[1].split("\n" + MARKER, 1)[0]
    data = json.loads(exported)
    points: list[dict[str, Any]] = []
    for resource_metrics in data["resource_metrics"]:
        for scope_metrics in resource_metrics["scope_metrics"]:
            for metric in scope_metrics["metrics"]:
                if metric["name"] == semconv.AGENT_REQUESTS.name:
                    points.extend(metric["data"]["data_points"])
    return points


@pytest.fixture(scope="module")
def configured_by_argument(probes: Probes) -> list[dict[str, Any]]:
    return exported_points(probes["argument"])


@pytest.mark.integration
def test_configure_limit_keeps_at_most_limit_plus_one_points(
    configured_by_argument: list[dict[str, Any]],
) -> None:
    assert len(configured_by_argument) <= LIMIT + 1


@pytest.mark.integration
def test_configure_limit_folds_the_flood_into_one_overflow_point(
    configured_by_argument: list[dict[str, Any]],
) -> None:
    (overflow,) = overflow_points(configured_by_argument)
    assert overflow["attributes"] == {semconv.OTEL_METRIC_OVERFLOW: True}


@pytest.mark.integration
def test_configure_limit_preserves_the_total(
    configured_by_argument: list[dict[str, Any]],
) -> None:
    assert sum(p["value"] for p in configured_by_argument) == TOTAL


@pytest.mark.integration
def test_cardinality_limit_variable_applies_the_same_limit(probes: Probes) -> None:
    points = exported_points(probes["variable"])
    assert len(points) <= LIMIT + 1
    assert len(overflow_points(points)) == 1
    assert sum(p["value"] for p in points) == TOTAL


@pytest.mark.integration
def test_default_limit_of_2000_keeps_all_500_agents(probes: Probes) -> None:
    points = exported_points(probes["default"])
    assert len(points) == AGENTS
    assert overflow_points(points) == []
    assert sum(p["value"] for p in points) == TOTAL
