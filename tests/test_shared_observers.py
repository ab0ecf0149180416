"""Observable gauges shared by every live instance on one MeterProvider (otel_agents._observers).

An SDK meter keeps the first observable instrument of a name and drops later callbacks: each
component below once registered its own callback, so a second instance on one provider
reported nothing and the first was never freed.
"""

from __future__ import annotations

import gc
import logging
import weakref
from collections.abc import Iterable
from typing import Any

import pytest
from opentelemetry.metrics import Observation

from otel_agents import semconv
from otel_agents._alerts import AlertManager
from otel_agents._dashboard import PerformanceDashboard
from otel_agents._observers import observe
from otel_agents.genai import GenAITelemetry
from otel_agents.genai._context import Attribution
from otel_agents.messaging import AgentCommunicationProtocol
from otel_agents.testing import TelemetryCapture


def _series(telemetry: TelemetryCapture, spec: semconv.MetricSpec) -> dict[Any, Any]:
    """The spec's data points at a fresh collection, by sorted attribute items."""
    found = telemetry.metrics().get(spec.name)
    if found is None:
        return {}
    return {tuple(sorted(p.attributes.items())): p.value for p in found.data.data_points}


def _collected(ref: weakref.ref[Any]) -> bool:
    gc.collect()
    return ref() is None


def test_two_alert_managers_on_one_provider_both_report_and_a_dropped_one_is_freed(
    telemetry: TelemetryCapture,
) -> None:
    first = AlertManager(meter_provider=telemetry.meter_provider)
    second = AlertManager(meter_provider=telemetry.meter_provider)
    first.raise_alert("warning", "first", "src_one")
    second.raise_alert("critical", "second", "src_two")
    one = ((semconv.ALERT_LEVEL, "warning"), (semconv.ALERT_SOURCE, "src_one"))
    two = ((semconv.ALERT_LEVEL, "critical"), (semconv.ALERT_SOURCE, "src_two"))
    assert _series(telemetry, semconv.AGENT_ALERTS_ACTIVE) == {one: 1, two: 1}

    ref = weakref.ref(first)
    del first
    assert _collected(ref)
    assert _series(telemetry, semconv.AGENT_ALERTS_ACTIVE) == {two: 1}


def test_active_alerts_of_one_level_and_source_in_two_managers_add_up(
    telemetry: TelemetryCapture,
) -> None:
    """A gauge keeps the last of two observations with the same attributes: they are summed."""
    managers = [AlertManager(meter_provider=telemetry.meter_provider) for _ in range(2)]
    for index, manager in enumerate(managers):
        manager.raise_alert("warning", f"queue {index} long", "queues")
    key = ((semconv.ALERT_LEVEL, "warning"), (semconv.ALERT_SOURCE, "queues"))
    assert _series(telemetry, semconv.AGENT_ALERTS_ACTIVE) == {key: 2}


def _dashboard(telemetry: TelemetryCapture, agent_id: str) -> PerformanceDashboard:
    comm = AgentCommunicationProtocol(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    comm.register_agent(agent_id, agent_id.title(), ["work"], f"http://localhost/{agent_id}")
    dashboard = PerformanceDashboard(
        agent_manager=comm,
        config={"system_resources": False, "default_alert_rules": False},
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
    )
    dashboard.refresh()
    return dashboard


def test_two_dashboards_report_their_health_scores_and_a_dropped_one_is_freed(
    telemetry: TelemetryCapture,
) -> None:
    first = _dashboard(telemetry, "planner")
    second = _dashboard(telemetry, "researcher")

    def agents() -> set[str]:
        return {
            dict(attributes).get(semconv.GEN_AI_AGENT_ID, "")
            for attributes in _series(telemetry, semconv.AGENT_HEALTH_SCORE)
        } - {""}

    assert agents() == {"planner", "researcher"}

    dashboard_ref, alerts_ref = weakref.ref(first), weakref.ref(first.alert_manager)
    del first
    assert _collected(dashboard_ref)
    assert alerts_ref() is None
    assert agents() == {"researcher"}
    assert second.get_dashboard_data()["agents"]  # still alive and reporting


def test_two_genai_telemetries_report_their_conversations_and_a_dropped_one_is_freed(
    telemetry: TelemetryCapture,
) -> None:
    first = GenAITelemetry(meter_provider=telemetry.meter_provider)
    second = GenAITelemetry(meter_provider=telemetry.meter_provider)
    for telemetry_of, conversation in ((first, "conv-1"), (second, "conv-2")):
        telemetry_of.record_usage(
            model="gpt-4o",
            provider="openai",
            input_tokens=1000,
            output_tokens=500,
            finish_reasons=("stop",),
            error_type=None,
            attribution=Attribution("agent", "Agent", conversation),
        )

    def conversations(spec: semconv.MetricSpec) -> dict[str, Any]:
        return {
            dict(attributes)[semconv.GEN_AI_CONVERSATION_ID]: value
            for attributes, value in _series(telemetry, spec).items()
        }

    assert conversations(semconv.AGENT_CONVERSATION_TOKENS) == {"conv-1": 1500, "conv-2": 1500}
    assert set(conversations(semconv.AGENT_CONVERSATION_COST)) == {"conv-1", "conv-2"}

    ref = weakref.ref(first)
    del first
    assert _collected(ref)
    assert conversations(semconv.AGENT_CONVERSATION_TOKENS) == {"conv-2": 1500}


def test_one_conversation_recorded_by_two_instances_is_their_sum(
    telemetry: TelemetryCapture,
) -> None:
    instances = [GenAITelemetry(meter_provider=telemetry.meter_provider) for _ in range(2)]
    for tokens, instance in ((100, instances[0]), (20, instances[1])):
        instance.record_usage(
            model="gpt-4o",
            provider="openai",
            input_tokens=tokens,
            output_tokens=0,
            finish_reasons=("stop",),
            error_type=None,
            attribution=Attribution("agent", "Agent", "shared-conv"),
        )
    points = telemetry.metric(semconv.AGENT_CONVERSATION_TOKENS.name).data.data_points
    assert [p.value for p in points] == [120]


def test_instances_sharing_one_set_of_totals_report_it_once(telemetry: TelemetryCapture) -> None:
    first = GenAITelemetry(meter_provider=telemetry.meter_provider)
    second = GenAITelemetry(
        meter_provider=telemetry.meter_provider, conversations=first.conversations
    )
    second.record_usage(
        model="gpt-4o",
        provider="openai",
        input_tokens=10,
        output_tokens=5,
        finish_reasons=("stop",),
        error_type=None,
        attribution=Attribution("agent", "Agent", "conv"),
    )
    points = telemetry.metric(semconv.AGENT_CONVERSATION_TOKENS.name).data.data_points
    assert [p.value for p in points] == [15]


class _Source:
    def __init__(self, value: float, fails: bool = False) -> None:
        self.value = value
        self.fails = fails

    def read(self) -> Iterable[Observation]:
        if self.fails:
            raise RuntimeError("reading broke")
        return [Observation(self.value, {semconv.HEALTH_SCOPE: str(self.value)})]


def test_an_instance_whose_reading_raises_is_logged_once_and_the_others_still_report(
    telemetry: TelemetryCapture, caplog: pytest.LogCaptureFixture
) -> None:
    broken, fine = _Source(1.0, fails=True), _Source(2.0)
    for source in (broken, fine):
        observe(telemetry.meter_provider, "tests", semconv.AGENT_HEALTH_SCORE, source, _Source.read)
    with caplog.at_level(logging.ERROR, logger="otel_agents.metrics"):
        for _ in range(3):
            values = [p.value for p in telemetry.points(semconv.AGENT_HEALTH_SCORE.name)]
            assert values == [2.0]
    assert len([r for r in caplog.records if "reading broke" in r.getMessage()]) == 1


def test_a_reading_bound_to_its_owner_is_refused(telemetry: TelemetryCapture) -> None:
    """A bound method would hold its owner for as long as the provider lives."""
    source = _Source(1.0)
    with pytest.raises(ValueError, match="unbound"):
        observe(telemetry.meter_provider, "tests", semconv.AGENT_HEALTH_SCORE, source, source.read)  # type: ignore[arg-type]


class _Reading:
    """An instance reading one backlog measured elsewhere (the same attributes for all)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def read(self) -> Iterable[Observation]:
        return [Observation(self.value, {semconv.MESSAGING_DESTINATION_NAME: "worker"})]


def test_largest_reports_one_reading_of_several_instances_once(
    telemetry: TelemetryCapture,
) -> None:
    """Instances reading one thing (a consumer's backlog) report it once: the largest."""
    readings = [_Reading(3), _Reading(2), _Reading(3)]
    for reading in readings:
        observe(
            telemetry.meter_provider,
            "tests",
            semconv.AGENT_MESSAGE_CONSUMER_LAG,
            reading,
            _Reading.read,
            largest=True,
        )
    assert [p.value for p in telemetry.points(semconv.AGENT_MESSAGE_CONSUMER_LAG.name)] == [3]
