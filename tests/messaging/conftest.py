from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _clocks import TwoClocks

from otel_agents.messaging import AgentCommunicationProtocol, SecurityConfig
from otel_agents.testing import TelemetryCapture
from tests._nats import NatsServer, nats_server
from tests.messaging.helpers import KEY, SECRET, Net

#: Both clocks of messaging, moved by hand.
FakeClock = TwoClocks


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_comm(telemetry: TelemetryCapture, clock: FakeClock) -> Iterator[Any]:
    """Build protocols wired to the test's telemetry and fake clock."""
    made: list[AgentCommunicationProtocol] = []

    def make(config: dict[str, Any] | None = None, **kwargs: Any) -> AgentCommunicationProtocol:
        comm = AgentCommunicationProtocol(
            config,
            clock=kwargs.pop("clock", clock),
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
            **kwargs,
        )
        made.append(comm)
        return comm

    yield make
    for comm in made:
        comm.stop()


@pytest.fixture
def comm(make_comm: Any) -> AgentCommunicationProtocol:
    """A protocol with a coordinator and two workers registered."""
    protocol: AgentCommunicationProtocol = make_comm()
    protocol.register_agent("coordinator", "Coordinator", ["planning"], "http://localhost:8000")
    protocol.register_agent(
        "monitoring_agent", "System Monitor", ["monitoring", "alerting"], "http://localhost:8001"
    )
    protocol.register_agent(
        "analyst", "Analyst", ["analysis", "monitoring"], "http://localhost:8002"
    )
    return protocol


@pytest.fixture
def security() -> SecurityConfig:
    """Shared-secret auth and HMAC signing on."""
    return SecurityConfig(shared_secret=SECRET, signing_key=KEY)


@pytest.fixture
def net(telemetry: TelemetryCapture, security: SecurityConfig) -> Net:
    """A hub and agents a, b, c wired through in-process ASGI apps."""
    return Net(telemetry, security)


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A real nats-server with JetStream on free loopback ports, stopped by pid after."""
    with nats_server(tmp_path / "nats") as server:
        yield server


@pytest.fixture
def make_nats_comm(telemetry: TelemetryCapture, nats: NatsServer) -> Iterator[Any]:
    """Protocols on the test's NATS server (each one stands for a process), all stopped after."""
    made: list[AgentCommunicationProtocol] = []

    def make(config: dict[str, Any] | None = None, **kwargs: Any) -> AgentCommunicationProtocol:
        comm = AgentCommunicationProtocol(
            {"transport": nats.url, "broker_timeout": 10.0, **(config or {})},
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
            **kwargs,
        )
        made.append(comm)
        return comm

    try:
        yield make
    finally:
        for comm in made:
            comm.stop()
