"""A protocol dropped without ``stop()`` (the seed never calls it) is collected and its
heartbeat thread ends; before, the non-weak monitor thread kept both alive for good and
went on marking the dropped protocol's agents offline."""

from __future__ import annotations

import gc
import threading
import weakref

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
