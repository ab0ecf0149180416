"""A hub and two agents in real processes on 127.0.0.1: one trace across all of them.

The processes export spans over OTLP to a real receiver, ``rotel`` (a dev dependency),
which prints what it receives; metrics go to the console exporter, printed at shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _http
import pytest
from _cluster import MESSAGING_KEY, MESSAGING_SECRET, Cluster, span_kinds
from _support import free_port

from otel_agents.messaging import MessageType, SecurityConfig
from otel_agents.messaging._remote import RemoteAgent
from otel_agents.testing import TelemetryCapture

pytestmark = pytest.mark.integration

SECRET, KEY = MESSAGING_SECRET, MESSAGING_KEY


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop()


def metric_points(metrics: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [
        point
        for data in metrics
        for resource in data["resource_metrics"]
        for scope in resource["scope_metrics"]
        for metric in scope["metrics"]
        if metric["name"] == name
        for point in metric["data"]["data_points"]
    ]


def test_a_forwarded_task_is_one_trace_across_hub_and_two_agent_processes(
    cluster: Cluster, telemetry: TelemetryCapture
) -> None:
    cluster.start_receiver()
    cluster.start("hub", "hub", "--port", str(cluster.hub_port))
    cluster.wait_until(lambda: _http.get(cluster.hub_url + "/healthz").status_code == 200, "hub")
    for agent_id, extra in (("agent-b", []), ("agent-a", ["--forward-to", "agent-b"])):
        port = str(free_port())
        arguments = ["--id", agent_id, "--capabilities", "work", "--hub", cluster.hub_url]
        cluster.start(agent_id, "agent", *arguments, "--port", port, *extra)
    cluster.wait_until(lambda: cluster.registered() == ["agent-a", "agent-b"], "registrations")

    coordinator = RemoteAgent(
        "coordinator",
        "Coordinator",
        ["planning"],
        "http://127.0.0.1:1",
        cluster.hub_url,
        security=SecurityConfig(shared_secret=SECRET, signing_key=KEY),
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
    )

    async def send() -> None:
        await coordinator.register()
        await coordinator.send_message("agent-a", MessageType.TASK_ASSIGNMENT, {"task": "scan"})
        await coordinator.aclose()

    asyncio.run(send())
    trace_id = f"{telemetry.span('send agent-a').context.trace_id:032x}"

    def in_trace() -> list[dict[str, str]]:
        return [s for s in cluster.spans() if s["Trace ID"] == trace_id]

    cluster.wait_until(
        lambda: any(s["Name"] == "process agent-b" for s in in_trace()), "agent-b to process"
    )
    cluster.stop("hub", "agent-a", "agent-b")
    spans = in_trace()

    assert span_kinds(spans, "hub") == {
        "POST /messages": "SPAN_KIND_SERVER",
        "route agent-a": "SPAN_KIND_INTERNAL",
        "route agent-b": "SPAN_KIND_INTERNAL",
    }
    assert span_kinds(spans, "agent-a") == {
        "POST /inbox": "SPAN_KIND_SERVER",
        "process agent-a": "SPAN_KIND_CONSUMER",
        "send agent-b": "SPAN_KIND_PRODUCER",
    }
    assert span_kinds(spans, "agent-b") == {
        "POST /inbox": "SPAN_KIND_SERVER",
        "process agent-b": "SPAN_KIND_CONSUMER",
    }

    def one(name: str) -> dict[str, str]:
        (span,) = [s for s in spans if s["Name"] == name]
        return span

    assert (
        one("process agent-a")["Parent ID"]
        == f"{telemetry.span('send agent-a').context.span_id:016x}"
    )
    assert one("send agent-b")["Parent ID"] == one("process agent-a")["ID"]
    assert one("route agent-b")["Parent ID"] == one("send agent-b")["ID"]
    assert one("process agent-b")["Parent ID"] == one("send agent-b")["ID"]
    received = cluster.outputs["rotel"].read_text(errors="replace")
    assert SECRET not in received
    assert KEY not in received

    consumed = metric_points(cluster.metrics("agent-b"), "messaging.client.consumed.messages")
    assert [p["value"] for p in consumed] == [1]
    routed = metric_points(cluster.metrics("hub"), "agent.message.routed")
    assert sorted(p["attributes"]["messaging.destination.name"] for p in routed) == [
        "agent-a",
        "agent-b",
    ]
    # Each message counts as sent once, at its sender; the hub only forwards.
    assert metric_points(cluster.metrics("hub"), "messaging.client.sent.messages") == []
    (sent,) = metric_points(cluster.metrics("agent-a"), "messaging.client.sent.messages")
    assert sent["attributes"]["messaging.destination.name"] == "agent-b"
