"""One trace across the gateway, the hub and two agents, all real processes on 127.0.0.1.

rotel (a real OTLP receiver) receives the spans; every process is configured only through
``OTEL_*`` variables and its own flags or config file. One request, sent by an
uninstrumented client through the gateway, makes the hub deliver a task to agent-a, which
forwards it to agent-b: every span of that request and of the messages it caused shares
one trace id.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import _http
import pytest
from _cluster import MESSAGING_KEY, MESSAGING_SECRET, Cluster
from _support import free_port

from otel_agents.messaging import MessageType, SecurityConfig
from otel_agents.messaging._message import new_message

pytestmark = pytest.mark.integration

SERVER, CLIENT = "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT"
INTERNAL, PRODUCER, CONSUMER = "SPAN_KIND_INTERNAL", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"
COORDINATOR = "coordinator"  # the client's agent id; it has no inbox and no telemetry

GATEWAY_CONFIG = """\
[gateway]
health_check_interval = 60

[[services]]
service_id = "hub"
name = "Agent hub"
version = "v1"
base_url = "{hub_url}"
"""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    started = time.monotonic()
    cluster = Cluster(
        tmp_path,
        {
            "OTEL_METRICS_EXPORTER": "otlp",  # to rotel too, which drops them
            "OTEL_METRIC_EXPORT_INTERVAL": "200",
        },
    )
    try:
        yield cluster
    finally:
        cluster.stop()
        print(f"one trace through gateway, hub and two agents: {time.monotonic() - started:.2f}s")


def start_everything(cluster: Cluster) -> str:
    """Start rotel, the hub, agent-b, agent-a (forwarding to agent-b) and the gateway in
    front of the hub; return the gateway's base URL once all are ready."""
    cluster.start_receiver()
    cluster.start("hub", "hub", "--port", str(cluster.hub_port))
    config = cluster.tmp_path / "gateway.toml"
    config.write_text(GATEWAY_CONFIG.format(hub_url=cluster.hub_url))
    gateway_port = free_port()
    cluster.start("gateway", "gateway", "--config", str(config), "--port", str(gateway_port))
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    # Agents retry a failed registration only after a second: start them once the hub is up.
    cluster.wait_until(lambda: _http.get(cluster.hub_url + "/healthz").status_code == 200, "hub")
    for agent_id, extra in (("agent-b", []), ("agent-a", ["--forward-to", "agent-b"])):
        arguments = ["--id", agent_id, "--capabilities", "work", "--hub", cluster.hub_url]
        cluster.start(agent_id, "agent", *arguments, "--port", str(free_port()), *extra)
    cluster.wait_until(
        lambda: _http.get(gateway_url + "/_gateway/health").status_code == 200, "the gateway"
    )
    cluster.wait_until(lambda: cluster.registered() == ["agent-a", "agent-b"], "registrations")
    return gateway_url


def post_through_gateway(gateway_url: str, path: str, body: bytes, signed_id: str | None) -> int:
    """What an uninstrumented client sends: hub credentials, no ``traceparent``."""
    security = SecurityConfig(shared_secret=MESSAGING_SECRET, signing_key=MESSAGING_KEY)
    headers = {"content-type": "application/json", **security.request_headers(COORDINATOR)}
    if signed_id is not None:
        headers.update(security.sign(signed_id, body))
    return _http.post(gateway_url + "/v1" + path, content=body, headers=headers).status_code


def test_a_gateway_request_its_messages_and_their_processing_are_one_trace(
    cluster: Cluster,
) -> None:
    started = time.monotonic()
    gateway_url = start_everything(cluster)
    ready = time.monotonic()
    registration = {
        "agent_id": COORDINATOR,
        "name": "Coordinator",
        "capabilities": ["planning"],
        "endpoint": "http://127.0.0.1:1",
    }
    assert (
        post_through_gateway(gateway_url, "/agents", json.dumps(registration).encode(), None) == 201
    )
    message, _ = new_message(
        COORDINATOR,
        "agent-a",
        MessageType.TASK_ASSIGNMENT,
        {"task": "scan"},
        "normal",
        now=time.time(),
        timeout=300.0,
    )
    assert message.headers == {}  # no trace context of its own
    body = message.to_json().encode()
    sent = time.monotonic()
    assert post_through_gateway(gateway_url, "/messages", body, message.message_id) == 202

    def processed_by_b() -> list[dict[str, str]]:
        return [s for s in cluster.spans() if s["Name"] == "process agent-b"]

    cluster.wait_until(lambda: bool(processed_by_b()), "agent-b to process the forward")
    print(
        f"\nprocesses ready in {ready - started:.2f}s; request to agent-b's span at rotel "
        f"in {time.monotonic() - sent:.2f}s"
    )
    cluster.stop("gateway", "hub", "agent-a", "agent-b")  # each flushes its spans on exit
    (processed,) = processed_by_b()
    trace_id = processed["Trace ID"]
    spans = [s for s in cluster.spans() if s["Trace ID"] == trace_id]
    ids = {s["ID"]: s for s in spans}

    def shape(span: dict[str, str]) -> tuple[str, str, str, str]:
        """(service, name, kind, parent's service and name) of one span."""
        parent = ids.get(span["Parent ID"])
        parent_label = "-" if parent is None else f"{parent['service']}: {parent['Name']}"
        return span["service"], span["Name"], span["Kind"], parent_label

    assert sorted(shape(s) for s in spans) == sorted(
        [
            ("gateway", "POST /v1/{path}", SERVER, "-"),
            ("gateway", "POST", CLIENT, "gateway: POST /v1/{path}"),
            ("hub", "POST /messages", SERVER, "gateway: POST"),
            ("hub", "route agent-a", INTERNAL, "hub: POST /messages"),
            ("agent-a", "POST /inbox", SERVER, "hub: POST /messages"),
            ("agent-a", "process agent-a", CONSUMER, "hub: route agent-a"),
            ("agent-a", "send agent-b", PRODUCER, "agent-a: process agent-a"),
            ("hub", "POST /messages", SERVER, "agent-a: send agent-b"),
            ("hub", "route agent-b", INTERNAL, "agent-a: send agent-b"),
            ("agent-b", "POST /inbox", SERVER, "hub: POST /messages"),
            ("agent-b", "process agent-b", CONSUMER, "agent-a: send agent-b"),
        ]
    )
    # Each inbox got its delivery from the hub request that routed its message.
    delivered_in = {
        s["service"]: shape(ids[s["Parent ID"]])[3] for s in spans if s["Name"] == "POST /inbox"
    }
    assert delivered_in == {"agent-a": "gateway: POST", "agent-b": "agent-a: send agent-b"}
    # The hub and the inboxes name SERVER spans after route templates (bounded), and leave
    # health checks untraced by default.
    server_names = {
        s["Name"]
        for s in cluster.spans()
        if s["service"] in ("hub", "agent-a", "agent-b") and s["Kind"] == SERVER
    }
    assert "POST /agents" in server_names  # the agents' registrations
    assert [n for n in server_names if "agent-a" in n or "agent-b" in n or "healthz" in n] == []
    (root,) = [s for s in spans if s["service"] == "gateway" and s["Kind"] == SERVER]
    assert root["Parent ID"] == ""  # the client sent no traceparent: the gateway starts it
    received = cluster.outputs["rotel"].read_text(errors="replace")
    assert MESSAGING_SECRET not in received
    assert MESSAGING_KEY not in received
