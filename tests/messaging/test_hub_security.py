"""Who may use the hub and where it may send, on real uvicorn servers on 127.0.0.1: the
endpoint checks (no SSRF relay), one agent id grammar, signing key rotation, and W3C trace
context hygiene of forwarded envelopes."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import _http
import pytest
from _cluster import Cluster

from otel_agents import semconv as sc
from otel_agents.messaging import (
    AgentMessage,
    MessagePriority,
    MessageType,
    SecurityConfig,
    SecurityError,
)
from otel_agents.messaging._remote import RemoteAgent
from tests.messaging.helpers import KEY, SECRET
from tests.messaging.servers import (
    AUTH,
    ThreadServer,
    post_signed,
    register_at,
    start_hub,
    start_inbox,
)

pytestmark = pytest.mark.integration  # a hub on 127.0.0.1; the CLI as a process

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def hub() -> Iterator[ThreadServer]:
    server = start_hub()
    yield server
    server.stop()


register = register_at


@pytest.mark.parametrize(
    ("endpoint", "why"),
    [
        ("http://169.254.169.254/latest/meta-data", "link-local or metadata"),
        ("http://[fe80::1]:8101", "link-local or metadata"),
        ("http://[::ffff:169.254.169.254]/", "link-local or metadata"),
        ("http://2852039166/", "link-local or metadata"),
        ("http://0xa9.0xfe.0xa9.0xfe/", "link-local or metadata"),
        ("http://metadata.google.internal/computeMetadata/v1", "metadata service"),
        # The gateway's refused set, which the hub's own list lacked: Alibaba's metadata
        # address, AWS's and Azure's metadata names (the hub resolves no name, so the
        # names are all it can refuse).
        ("http://100.100.100.200/latest/meta-data", "link-local or metadata"),
        ("http://instance-data/latest/meta-data", "metadata service"),
        ("http://instance-data.ec2.internal./latest", "metadata service"),
        ("http://metadata.azure.internal/metadata", "metadata service"),
        # Full-width and ideographic dots: httpx (like every IDNA encoder) reads them as
        # '.', and the hub connected to 169.254.169.254 that its check never saw.
        ("http://169\u3002254\u3002169\u3002254/latest/meta-data", "link-local or metadata"),
        ("http://metadata\uff0egoogle\uff0einternal/computeMetadata/v1", "metadata service"),
        # The root's final dot on an address: the gateway reads it as the literal (and
        # refuses it), the hub took it for a name and relayed to it.
        ("http://169.254.169.254./latest/meta-data", "link-local or metadata"),
        ("http://0xa9fea9fe.:80/", "link-local or metadata"),
        ("http://100.100.100.200./latest/meta-data", "link-local or metadata"),
        ("http://169\u3002254\u3002169\u3002254\u3002/", "link-local or metadata"),
        ("file:///etc/passwd", "scheme must be http or https"),
        ("gopher://127.0.0.1:6379/", "scheme must be http or https"),
        ("http://user:pass@127.0.0.1:8101", "user info"),
        ("http://127.0.0.1:8101/?next=x", "query or fragment"),
        ("http://:8101", "no host"),
    ],
)
def test_hub_refuses_endpoints_that_would_make_it_a_relay(
    hub: ThreadServer, endpoint: str, why: str
) -> None:
    response = register(hub, "agent-x", endpoint)
    assert response.status_code == 400, response.text
    assert why in response.json()["detail"]
    listed = _http.get(hub.url + "/agents", headers=AUTH).json()
    assert listed == []


def test_an_allowed_network_lets_a_link_local_endpoint_register() -> None:
    server = start_hub({"allowed_endpoint_networks": ["169.254.10.0/24"]})
    try:
        assert register(server, "agent-x", "http://169.254.10.7:8101").status_code == 201
        assert register(server, "agent-y", "http://169.254.169.254/").status_code == 400
    finally:
        server.stop()


def test_registrations_over_http_are_audited_with_the_clients_address(
    hub: ThreadServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="otel_agents.audit")
    assert register(hub, "agent-a", "http://127.0.0.1:8101").status_code == 201
    assert _http.delete(hub.url + "/agents/agent-a", headers=AUTH).status_code == 200
    audited = [
        dict(r.args[1])  # type: ignore[index]
        for r in caplog.records
        if r.name == "otel_agents.audit" and isinstance(r.args, tuple)
    ]
    assert [(a[sc.AUDIT_ACTION], a[sc.AUDIT_TARGET]) for a in audited] == [
        ("agent.register", "agent-a"),
        ("agent.unregister", "agent-a"),
    ]
    assert {a[sc.CLIENT_ADDRESS] for a in audited} == {"127.0.0.1"}
    assert SECRET not in caplog.text


def test_agents_are_found_over_http_by_several_capabilities(hub: ThreadServer) -> None:
    for agent_id, capabilities in (("both", ["x", "y"]), ("only-x", ["x"])):
        body = {
            "agent_id": agent_id,
            "name": agent_id,
            "capabilities": capabilities,
            "endpoint": "http://127.0.0.1:8101",
        }
        assert _http.post(hub.url + "/agents", json=body, headers=AUTH).status_code == 201

    def ids(query: str) -> list[str]:
        response = _http.get(hub.url + "/agents" + query, headers=AUTH)
        return [agent["agent_id"] for agent in response.json()]

    assert ids("?capability=x") == ["both", "only-x"]
    assert ids("?capability=x&capability=y") == ["both"]
    assert ids("") == ["both", "only-x"]


@pytest.mark.parametrize("agent_id", ["a/b", "a?b", "a#b", "a%2Fb", "a..b", "agënt", "a b"])
def test_an_id_outside_the_grammar_is_refused_over_http_naming_it(
    hub: ThreadServer, agent_id: str
) -> None:
    response = register(hub, agent_id, "http://127.0.0.1:8101")
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert f"agent_id={agent_id!r}" in detail
    assert "1-128 ASCII letters, digits and _ . : @ -" in detail
    assert _http.get(hub.url + "/agents", headers=AUTH).json() == []


def test_every_id_the_grammar_allows_registers_and_heartbeats_over_http(
    hub: ThreadServer,
) -> None:
    async def scenario(agent_id: str) -> str:
        agent = RemoteAgent(
            agent_id, "N", ["x"], "http://127.0.0.1:8101", hub.url,
            security=SecurityConfig(shared_secret=SECRET, signing_key=KEY),
        )  # fmt: skip
        try:
            await agent.register()
            await agent.heartbeat("busy")
            return str((await agent.find_agents_by_capability("x"))[-1]["status"])
        finally:
            await agent.aclose()

    for agent_id in ("Agent_1.x:y@z-w", "_", "9" * 128):
        assert asyncio.run(scenario(agent_id)) == "busy"


def test_a_hub_with_two_keys_accepts_either_and_signs_with_the_first() -> None:
    new, old = "new-signing-key", KEY
    hub = start_hub(security=SecurityConfig(shared_secret=SECRET, signing_key=[new, old]))
    # The inbox knows only the new key: what the hub forwards must be signed with it.
    inbox_security = SecurityConfig(shared_secret=SECRET, signing_key=new)
    agent, inbox = start_inbox("agent-b", hub.url, security=inbox_security)

    async def send(key: str | list[str], recipient: str = "agent-b") -> str:
        sender = RemoteAgent(
            "agent-a", "A", [], "http://127.0.0.1:1", hub.url,
            security=SecurityConfig(shared_secret=SECRET, signing_key=key),
        )  # fmt: skip
        try:
            await sender.register()
            return await sender.send_message(recipient, MessageType.REQUEST, {"k": str(key)})
        finally:
            await sender.aclose()

    try:
        register(hub, "agent-b", inbox.url).raise_for_status()
        asyncio.run(send(old))  # an agent not yet rolled to the new key
        asyncio.run(send([new, old]))  # one that was
        with pytest.raises(SecurityError, match="signature"):
            asyncio.run(send("some-other-key"))
        received = [agent.queue.get_nowait() for _ in range(2)]
        assert [m.payload["k"] for m in received if m] == [old, str([new, old])]
    finally:
        inbox.stop()
        hub.stop()
        asyncio.run(agent.aclose())


@pytest.mark.parametrize(
    ("traceparent", "tracestate", "forwarded_state"),
    [
        (None, "caller=secret", None),  # no traceparent: the caller's state is not forwarded
        ("00-garbage", "caller=secret", None),  # invalid traceparent: neither is forwarded
        (f"00-{'0' * 32}-00f067aa0ba902b7-01", "caller=secret", None),  # all-zero trace id
        (PARENT, "x" * 600, None),  # over-long tracestate: dropped
        (PARENT, "Bad Key=1,!!", None),  # invalid tracestate: dropped
        (PARENT, "vendor=abc , other=1", "vendor=abc,other=1"),  # valid: re-serialized
    ],
)
def test_the_hub_forwards_only_w3c_valid_trace_context(
    hub: ThreadServer,
    traceparent: str | None,
    tracestate: str,
    forwarded_state: str | None,
) -> None:
    agent, inbox = start_inbox("agent-b", hub.url)
    try:
        register(hub, "agent-a", "http://127.0.0.1:1").raise_for_status()
        register(hub, "agent-b", inbox.url).raise_for_status()
        headers = {"tracestate": tracestate}
        if traceparent is not None:
            headers["traceparent"] = traceparent
        message = AgentMessage(
            AgentMessage.new_id(), MessageType.REQUEST, MessagePriority.NORMAL,
            "agent-a", "agent-b", {}, 1e9, headers=headers,
        )  # fmt: skip
        body = message.to_json().encode()
        response = post_signed(hub.url + "/messages", body, message.message_id)
        assert response.status_code == 202, response.text
        received = agent.queue.get_nowait()
        assert received is not None
        assert received.headers.get("tracestate") == forwarded_state
        assert "caller=secret" not in json.dumps(received.headers)
        if traceparent == PARENT:
            assert received.headers["traceparent"].split("-")[1] == TRACE_ID
    finally:
        inbox.stop()
        asyncio.run(agent.aclose())


def test_the_cli_hub_refuses_to_start_without_a_secret_unless_insecure(tmp_path: Path) -> None:
    cluster = Cluster(
        tmp_path,
        env={
            "OTEL_AGENTS_MESSAGING_SECRET": "",
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "none",
        },
    )
    try:
        cluster.start("refused", "hub", "--port", str(cluster.hub_port))
        assert cluster.processes["refused"].wait(timeout=30) == 2
        error = (tmp_path / "refused.err").read_text()
        assert "OTEL_AGENTS_MESSAGING_SECRET is not set" in error
        assert "--insecure" in error
        del cluster.processes["refused"]  # exited, as it should

        cluster.start("open", "hub", "--port", str(cluster.hub_port), "--insecure")
        cluster.wait_until(
            lambda: _http.get(cluster.hub_url + "/healthz").status_code == 200, "the hub"
        )
        assert "without authentication" in (tmp_path / "open.err").read_text()
    finally:
        cluster.stop()
