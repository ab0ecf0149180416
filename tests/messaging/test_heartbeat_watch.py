"""Heartbeat checking outlives a failing check, in the protocol's thread and the hub's task."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from otel_agents.messaging import AgentCommunicationProtocol, AgentStatus, StatusChange
from otel_agents.messaging._hub import create_hub_app
from otel_agents.messaging._transport import HttpTransport
from otel_agents.testing import TelemetryCapture
from tests.messaging.conftest import FakeClock
from tests.messaging.servers import ThreadServer, security

DEADLINE = 30.0  # generous: the machine is shared; the tests assert behaviour, not speed


class FailingOnceClock(FakeClock):
    """A fake clock whose next monotonic reading, once armed, raises (a broken check)."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.raised = threading.Event()

    def monotonic(self) -> float:
        if self.armed:
            self.armed = False
            self.raised.set()
            raise RuntimeError("the clock broke once")
        return super().monotonic()


def _watched(protocol: AgentCommunicationProtocol) -> threading.Event:
    """Register a worker; the returned event is set when it is marked offline."""
    offline = threading.Event()

    def listen(change: StatusChange) -> None:
        if change.agent_id == "worker" and change.status is AgentStatus.OFFLINE:
            offline.set()

    protocol.add_status_listener(listen)
    protocol.register_agent("worker", "Worker", ["work"], "http://127.0.0.1:9")
    return offline


def _break_then_miss(clock: FailingOnceClock, offline: threading.Event) -> None:
    clock.armed = True
    assert clock.raised.wait(DEADLINE), "the heartbeat check never ran"
    clock.advance(10_000.0)  # far past heartbeat_miss_limit intervals
    assert offline.wait(DEADLINE), "heartbeat checking stopped after one failed check"


def _protocol(telemetry: TelemetryCapture, clock: FakeClock, **kwargs: Any) -> Any:
    return AgentCommunicationProtocol(
        {"heartbeat_interval": 0.01},
        clock=clock,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        **kwargs,
    )


def test_protocol_heartbeat_thread_survives_a_failing_check(telemetry: TelemetryCapture) -> None:
    clock = FailingOnceClock()
    protocol = _protocol(telemetry, clock)
    offline = _watched(protocol)
    protocol.start()
    try:
        _break_then_miss(clock, offline)
    finally:
        protocol.stop()


@pytest.mark.integration
def test_hub_heartbeat_task_survives_a_failing_check(telemetry: TelemetryCapture) -> None:
    clock = FailingOnceClock()
    chosen = security()
    hub = _protocol(telemetry, clock, transport=HttpTransport(chosen))
    offline = _watched(hub)
    server = ThreadServer(create_hub_app(hub, chosen)).start()
    try:
        _break_then_miss(clock, offline)
    finally:
        server.stop()
