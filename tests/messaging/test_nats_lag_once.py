"""``agent.message.consumer.lag`` counts one consumer's backlog once per meter provider.

Every protocol on a provider reads the same broker: two of them that both see an agent
offline (or both consume it) each read its backlog, and summing the readings showed 6 for 3
waiting messages. The largest reading per attribute set is reported.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from otel_agents import semconv as sc
from otel_agents.messaging import AgentCommunicationProtocol, AgentStatus, MessageType
from otel_agents.testing import TelemetryCapture
from tests._nats import NatsServer, backlog
from tests.messaging.test_nats_transport import eventually

pytestmark = pytest.mark.integration

Make = Callable[..., AgentCommunicationProtocol]


def _lag(telemetry: TelemetryCapture, agent_id: str) -> list[int]:
    points = telemetry.points(sc.AGENT_MESSAGE_CONSUMER_LAG.name)
    return [p.value for p in points if p.attributes[sc.MESSAGING_DESTINATION_NAME] == agent_id]


def test_two_protocols_on_one_provider_report_an_offline_agents_backlog_once(
    make_nats_comm: Make, nats: NatsServer, telemetry: TelemetryCapture
) -> None:
    elsewhere = TelemetryCapture()  # another process, with its own provider
    try:
        other = AgentCommunicationProtocol(
            {"transport": nats.url, "broker_timeout": 10.0},
            meter_provider=elsewhere.meter_provider,
            tracer_provider=elsewhere.tracer_provider,
        )
        try:
            here = [make_nats_comm(), make_nats_comm()]  # two protocols, one provider
            other.register_agent("dead", "Dead", ["x"], "http://localhost:8009")
            other.update_agent_status("dead", AgentStatus.OFFLINE)
            for n in range(3):
                other.send_message("boss", "dead", MessageType.REQUEST, {"n": n})
            assert backlog(nats.url, "dead") == 3
            eventually(
                lambda: all(
                    (i := comm.registry.lookup("dead")) is not None
                    and i.status is AgentStatus.OFFLINE
                    for comm in here
                ),
                "both protocols seeing dead offline",
            )
            # Each reading is reused for a second: wait until both see the backlog.
            eventually(lambda: all(c.transport.lag() for c in here), "both reading the lag")
            assert _lag(telemetry, "dead") == [3]
        finally:
            other.stop()
    finally:
        elsewhere.shutdown()


def test_two_protocols_consuming_one_agent_report_its_backlog_once(
    make_nats_comm: Make, nats: NatsServer, telemetry: TelemetryCapture
) -> None:
    first, second = make_nats_comm(), make_nats_comm()
    first.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    second.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    for n in range(2):
        first.send_message("boss", "worker", MessageType.REQUEST, {"n": n})
    assert backlog(nats.url, "worker") == 2
    assert _lag(telemetry, "worker") == [2]
