"""A protocol dropped without ``stop()`` (the seed never calls it) is collected and its
heartbeat thread ends; before, the non-weak monitor thread kept both alive for good and
went on marking the dropped protocol's agents offline."""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Any

from otel_agents import semconv as sc
from otel_agents.messaging import AgentCommunicationProtocol, MessageType
from otel_agents.testing import TelemetryCapture

DEADLINE = 30.0  # generous: the machine is shared; the tests assert behaviour, not speed


def _heartbeat_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("otel-agents-heartbeats")}


def test_dropped_protocols_are_collected_and_their_heartbeat_threads_end(
    telemetry: TelemetryCapture,
) -> None:
    """The seed's defaults (a 30 s interval): the threads end on collection, not later;
    the meter provider's gauge callbacks keep neither the protocols nor their queues."""
    before = _heartbeat_threads()
    kept: list[AgentCommunicationProtocol] = []
    for _ in range(5):
        comm = AgentCommunicationProtocol(
            tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
        )
        comm.register_agent("monitoring_agent", "System Monitor", ["monitoring"], "http://m:1")
        comm.send_message("coordinator", "monitoring_agent", MessageType.TASK_ASSIGNMENT, {})
        kept.append(comm)
    started = _heartbeat_threads() - before
    assert len(started) == 5
    assert _depth_points(telemetry) > 0  # the queued messages are reported while kept
    refs = [weakref.ref(comm) for comm in kept]
    del comm, kept

    gc.collect()

    assert [r() for r in refs] == [None] * 5
    for thread in started:
        thread.join(DEADLINE)
        assert not thread.is_alive()
    assert _depth_points(telemetry) == 0  # the provider kept no queue alive


def _depth_points(telemetry: TelemetryCapture) -> int:
    metric = telemetry.metrics().get(sc.AGENT_MESSAGE_QUEUE_DEPTH.name)
    return 0 if metric is None else sum(p.value for p in metric.data.data_points)


def test_a_kept_protocol_keeps_checking_heartbeats(telemetry: TelemetryCapture) -> None:
    comm = AgentCommunicationProtocol(
        {"heartbeat_interval": 0.01},
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
    )
    offline = threading.Event()
    comm.add_status_listener(lambda change: offline.set())
    try:
        comm.register_agent("silent", "Silent", ["x"], "http://s:1")
        gc.collect()
        assert offline.wait(DEADLINE), "the monitor of a kept protocol stopped"
    finally:
        comm.stop()


def _gauges(telemetry: TelemetryCapture) -> dict[str, dict[tuple[tuple[str, Any], ...], Any]]:
    """The three per-protocol gauges: {name: {sorted attributes: value}}."""
    names = (sc.AGENT_REGISTRY_AGENTS, sc.AGENT_MESSAGE_QUEUE_DEPTH, sc.AGENT_HEARTBEAT_AGE)
    found = telemetry.metrics()
    return {
        spec.name: {
            tuple(sorted((p.attributes or {}).items())): p.value
            for p in found[spec.name].data.data_points
        }
        for spec in names
        if spec.name in found
    }


def _protocol(telemetry: TelemetryCapture, agent_id: str) -> AgentCommunicationProtocol:
    comm = AgentCommunicationProtocol(
        {"heartbeat_monitor": False},
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
    )
    comm.register_agent(agent_id, agent_id, ["x"], f"http://{agent_id}:1")
    comm.send_message("someone", agent_id, MessageType.NOTIFICATION, {})
    return comm


def test_two_protocols_on_one_provider_both_report_their_gauges(
    telemetry: TelemetryCapture,
) -> None:
    """The SDK drops a second instrument's callbacks: the gauges are one per provider, over
    every live protocol, so the second protocol's agent and queue are reported too."""
    first, second = _protocol(telemetry, "a1"), _protocol(telemetry, "b1")
    try:
        gauges = _gauges(telemetry)
        ages = {dict(k)[sc.GEN_AI_AGENT_ID] for k in gauges[sc.AGENT_HEARTBEAT_AGE.name]}
        depths = {dict(k)[sc.GEN_AI_AGENT_ID] for k in gauges[sc.AGENT_MESSAGE_QUEUE_DEPTH.name]}
        assert ages == {"a1", "b1"}
        assert depths == {"a1", "b1"}
        online = gauges[sc.AGENT_REGISTRY_AGENTS.name][((sc.AGENT_STATUS, "online"),)]
        assert online == 2  # the counts of both protocols add up
    finally:
        first.stop()
        second.stop()


def test_the_second_protocol_reports_after_the_first_is_dropped(
    telemetry: TelemetryCapture,
) -> None:
    first = _protocol(telemetry, "a1")
    dropped = weakref.ref(first)
    first.stop()
    del first
    gc.collect()
    assert dropped() is None
    second = _protocol(telemetry, "b1")
    try:
        gauges = _gauges(telemetry)
        ages = {dict(k)[sc.GEN_AI_AGENT_ID] for k in gauges[sc.AGENT_HEARTBEAT_AGE.name]}
        depths = {dict(k)[sc.GEN_AI_AGENT_ID] for k in gauges[sc.AGENT_MESSAGE_QUEUE_DEPTH.name]}
        assert ages == {"b1"}
        assert depths == {"b1"}
        assert gauges[sc.AGENT_REGISTRY_AGENTS.name][((sc.AGENT_STATUS, "online"),)] == 1
    finally:
        second.stop()
