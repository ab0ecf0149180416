"""Agents as ``otel-agents agent --nats`` processes: one trace from sender to handler.

No hub: a coordinator in this process and two agent processes share a real nats-server;
the agents export spans over OTLP to ``rotel`` (see ``tests/_cluster.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _cluster import MESSAGING_KEY, Cluster, span_kinds

from otel_agents.messaging import (
    AgentCommunicationProtocol,
    MessageType,
    NatsTransport,
    SecurityConfig,
)
from otel_agents.testing import TelemetryCapture
from tests._nats import NatsServer

pytestmark = pytest.mark.integration


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop()


def test_a_forwarded_task_is_one_trace_across_two_nats_agent_processes(
    cluster: Cluster, nats: NatsServer, telemetry: TelemetryCapture
) -> None:
    cluster.start_receiver()
    for agent_id, extra in (("agent-b", []), ("agent-a", ["--forward-to", "agent-b"])):
        arguments = ["--id", agent_id, "--capabilities", "work", "--nats", nats.url]
        cluster.start(agent_id, "agent", *arguments, *extra)
    coordinator = AgentCommunicationProtocol(
        {"heartbeat_monitor": False},
        transport=NatsTransport(nats.url, security=SecurityConfig(signing_key=MESSAGING_KEY)),
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
    )
    try:
        cluster.wait_until(
            lambda: [a.agent_id for a in coordinator.list_agents()] == ["agent-a", "agent-b"],
            "both agents in the agents bucket",
        )
        message_id = coordinator.send_message(
            "coordinator", "agent-a", MessageType.TASK_ASSIGNMENT, {"task": "scan"}
        )
        trace_id = f"{telemetry.span('send agent-a').context.trace_id:032x}"

        def in_trace() -> list[dict[str, str]]:
            return [s for s in cluster.spans() if s["Trace ID"] == trace_id]

        cluster.wait_until(
            lambda: any(s["Name"] == "process agent-b" for s in in_trace()), "agent-b to process"
        )
        cluster.wait_until(
            lambda: coordinator.get_message_status(message_id).status.value == "processed",
            "the outcome to reach the coordinator",
        )
    finally:
        coordinator.stop()
    cluster.stop("agent-a", "agent-b")
    spans = in_trace()

    assert span_kinds(spans, "agent-a") == {
        "process agent-a": "SPAN_KIND_CONSUMER",
        "send agent-b": "SPAN_KIND_PRODUCER",
    }
    assert span_kinds(spans, "agent-b") == {"process agent-b": "SPAN_KIND_CONSUMER"}

    def one(name: str) -> dict[str, str]:
        (span,) = [s for s in spans if s["Name"] == name]
        return span

    send_a = telemetry.span("send agent-a").context.span_id
    assert one("process agent-a")["Parent ID"] == f"{send_a:016x}"
    assert one("send agent-b")["Parent ID"] == one("process agent-a")["ID"]
    assert one("process agent-b")["Parent ID"] == one("send agent-b")["ID"]
    assert MESSAGING_KEY not in cluster.outputs["rotel"].read_text(errors="replace")
