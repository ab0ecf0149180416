"""Hub and inbox apps over HTTP (in-process ASGI, no sockets): trace, auth, signatures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanContext, SpanKind

from otel_agents.messaging import (
    AgentCommunicationProtocol,
    DeliveryError,
    MessageType,
    SecurityConfig,
    SecurityError,
    UnknownAgentError,
)
from otel_agents.messaging._message import new_message
from otel_agents.testing import TelemetryCapture
from tests.messaging.helpers import KEY, SECRET, Net


def run(coro: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(coro())  # type: ignore[arg-type]


def test_message_over_http_is_one_trace_from_sender_through_hub_to_recipient(
    net: Net, telemetry: TelemetryCapture
) -> None:
    async def scenario() -> None:
        await net.register("agent-a", "agent-b")
        await net.agents["agent-a"].send_message("agent-b", MessageType.REQUEST, {"q": 1})
        await net.agents["agent-b"].process_next()

    run(scenario)
    sent = telemetry.span("send agent-b")
    processed = telemetry.span("process agent-b")
    hub_server = telemetry.span("POST /messages")
    inbox_server = telemetry.span("POST /inbox")
    assert sent.kind is SpanKind.PRODUCER
    assert processed.kind is SpanKind.CONSUMER
    # In one process the ASGI middleware sees the caller's span and makes these INTERNAL;
    # the subprocess integration test checks they are SERVER spans.
    trace_ids = {s.context.trace_id for s in (sent, processed, hub_server, inbox_server)}
    assert trace_ids == {sent.context.trace_id}
    assert processed.parent is not None
    assert processed.parent.span_id == sent.context.span_id
    assert hub_server.parent is not None
    assert hub_server.parent.span_id == sent.context.span_id
    assert inbox_server.parent is not None
    assert inbox_server.parent.span_id == hub_server.context.span_id
    assert processed.attributes["gen_ai.agent.name"] == "AGENT-B"  # type: ignore[index]
    assert sent.attributes["gen_ai.agent.name"] == "AGENT-A"  # type: ignore[index]


def test_broadcast_over_http_links_every_process_span_to_one_send_span(
    net: Net, telemetry: TelemetryCapture
) -> None:
    async def scenario() -> list[str]:
        await net.register("agent-a", "agent-b", "agent-c")
        ids = await net.agents["agent-a"].broadcast_message(MessageType.NOTIFICATION, {})
        await net.agents["agent-b"].process_next()
        await net.agents["agent-c"].process_next()
        return ids

    ids = run(scenario)
    assert len(ids) == 2
    sent = telemetry.span("send broadcast")
    assert sent.attributes["messaging.batch.message_count"] == 2  # type: ignore[index]
    for span in telemetry.spans("process broadcast"):
        assert [link.context.span_id for link in span.links] == [sent.context.span_id]


def test_discovery_and_heartbeats_over_http(net: Net) -> None:
    async def scenario() -> tuple[list[dict[str, Any]], str]:
        await net.register("agent-a", "agent-b")
        found = await net.agents["agent-a"].find_agents_by_capability("work")
        await net.agents["agent-b"].heartbeat("busy")
        return found, net.hub.get_agent("agent-b").status.value

    found, status = run(scenario)
    assert [a["agent_id"] for a in found] == ["agent-a", "agent-b"]
    assert status == "busy"


def test_unknown_recipient_over_http_raises_the_in_process_error(net: Net) -> None:
    async def scenario() -> None:
        await net.register("agent-a")
        await net.agents["agent-a"].send_message("ghost", MessageType.REQUEST, {})

    with pytest.raises(UnknownAgentError, match="recipient_id='ghost' is not a registered"):
        run(scenario)


@pytest.mark.integration
def test_recipient_down_is_reported_to_the_sender_and_counted(
    net: Net, telemetry: TelemetryCapture
) -> None:
    async def scenario() -> str:
        await net.register("agent-a", "agent-b")
        del net.router.apps["agent-b"]
        await net.agents["agent-a"].send_message("agent-b", MessageType.REQUEST, {})
        return ""

    with pytest.raises(DeliveryError, match="agent 'agent-b' at http://agent-b is unreachable"):
        run(scenario)
    failed = telemetry.points("agent.message.failed", {"error.type": "recipient_unreachable"})
    assert sum(p.value for p in failed) == 2  # counted by the hub and by the sender
    (record,) = net.hub.get_message_history()
    assert (record.status.value, record.error_type) == ("failed", "recipient_unreachable")


def signed_post(net: Net, security: SecurityConfig, body: bytes, headers: dict[str, str]) -> Any:
    async def post() -> httpx.Response:
        return await net.client.post("http://agent-b/inbox", content=body, headers=headers)

    return run(post)


def envelope(net: Net) -> bytes:
    hub = AgentCommunicationProtocol()
    hub.register_agent("agent-a", "A", ["x"], "http://agent-a")
    hub.register_agent("agent-b", "B", ["x"], "http://agent-b")
    message_id = hub.send_message("agent-a", "agent-b", "request", {"n": 1})
    return hub.get_message_status(message_id).message.to_json().encode()


def auth(security: SecurityConfig) -> dict[str, str]:
    return security.request_headers("hub", "agent-b")


@pytest.mark.parametrize(
    ("tamper", "status", "reason"),
    [
        ("wrong_token", 401, "unauthorized"),
        ("no_token", 401, "unauthorized"),
        ("unsigned", 403, "unsigned"),
        ("tampered", 403, "bad_signature"),
        ("stale", 403, "stale"),
    ],
)
def test_inbox_rejects_and_counts_bad_requests_and_never_queues_them(
    net: Net,
    security: SecurityConfig,
    telemetry: TelemetryCapture,
    tamper: str,
    status: int,
    reason: str,
) -> None:
    body = envelope(net)
    message_id = json.loads(body)["message_id"]
    headers = {**auth(security), **security.sign(message_id, body)}
    if tamper == "wrong_token":
        headers["authorization"] = "Bearer nope"
    elif tamper == "no_token":
        del headers["authorization"]
    elif tamper == "unsigned":
        headers = auth(security)
    elif tamper == "tampered":
        body = body.replace(b'"n":1', b'"n":2')
    elif tamper == "stale":
        old = SecurityConfig(signing_key=KEY, clock=lambda: security.clock() - 3600)
        headers = {**auth(security), **old.sign(message_id, body)}
    response = signed_post(net, security, body, headers)
    assert response.status_code == status
    assert response.json()["error"] == reason
    assert len(net.agents["agent-b"].queue) == 0
    (rejected,) = telemetry.points("agent.message.rejected")
    assert dict(rejected.attributes) == {"error.type": reason}
    assert SECRET not in repr(telemetry.spans())
    assert KEY not in repr(telemetry.spans())


def test_inbox_rejects_a_replayed_message(
    net: Net, security: SecurityConfig, telemetry: TelemetryCapture
) -> None:
    body = envelope(net)
    headers = {**auth(security), **security.sign(json.loads(body)["message_id"], body)}
    assert signed_post(net, security, body, headers).status_code == 202
    replay = signed_post(net, security, body, headers)
    assert (replay.status_code, replay.json()["error"]) == (403, "replayed")
    assert len(net.agents["agent-b"].queue) == 1


def test_hub_refuses_a_sender_forged_under_another_agents_token(
    telemetry: TelemetryCapture,
) -> None:
    security = SecurityConfig(agent_tokens={"agent-a": "token-a", "agent-b": "token-b"})
    net = Net(telemetry, security)

    async def scenario() -> None:
        await net.register("agent-a", "agent-b")
        forger = net.agents["agent-b"]
        forger.agent_id = "agent-a"  # claims to be agent-a but holds agent-b's token
        forger.security = SecurityConfig(agent_tokens={"agent-a": "token-b"})
        await forger.send_message("agent-b", MessageType.REQUEST, {})

    with pytest.raises(SecurityError, match="credentials are missing or wrong"):
        run(scenario)


def test_security_config_repr_hides_secrets() -> None:
    shown = repr(SecurityConfig(shared_secret=SECRET, signing_key=KEY, agent_tokens={"a": "t0k"}))
    assert SECRET not in shown
    assert KEY not in shown
    assert "t0k" not in shown


def test_concurrent_sends_share_requests_but_each_message_keeps_its_own_trace(
    net: Net, telemetry: TelemetryCapture
) -> None:
    async def scenario() -> None:
        await net.register("agent-a", "agent-b")
        sender = net.agents["agent-a"]
        await asyncio.gather(
            *(sender.send_message("agent-b", MessageType.REQUEST, {"n": i}) for i in range(10))
        )
        for _ in range(10):
            await net.agents["agent-b"].process_next()

    run(scenario)
    # All ten were sent in the same loop turn: one request to the hub, one to the inbox.
    assert len(telemetry.spans("POST /messages")) == 1
    assert len(telemetry.spans("POST /inbox")) == 1
    sends = {s.context.span_id: s for s in telemetry.spans("send agent-b")}
    routes = telemetry.spans("route agent-b")
    processes = telemetry.spans("process agent-b")
    assert len(sends) == len(routes) == len(processes) == 10
    for span in routes + processes:
        assert span.parent is not None
        parent = sends[span.parent.span_id]
        assert span.context.trace_id == parent.context.trace_id
    assert {s.parent.span_id for s in processes} == set(sends)  # type: ignore[union-attr]
    assert routes[0].kind is SpanKind.INTERNAL
    assert routes[0].attributes["messaging.operation.name"] == "route"  # type: ignore[index]


def test_a_refused_message_in_a_batch_fails_only_its_own_send(
    net: Net, telemetry: TelemetryCapture
) -> None:
    async def scenario() -> list[Any]:
        await net.register("agent-a", "agent-b")
        sender = net.agents["agent-a"]
        return await asyncio.gather(
            sender.send_message("agent-b", MessageType.REQUEST, {}),
            sender.send_message("ghost", MessageType.REQUEST, {}),
            sender.send_message("agent-b", MessageType.REQUEST, {}),
            return_exceptions=True,
        )

    first, ghost, third = run(scenario)
    assert isinstance(first, str)
    assert isinstance(third, str)
    assert isinstance(ghost, UnknownAgentError)
    assert "recipient_id='ghost' is not a registered agent" in str(ghost)
    assert len(net.agents["agent-b"].queue) == 2
    (failed,) = telemetry.spans("send ghost")
    assert failed.attributes["error.type"] == "UnknownAgentError"  # type: ignore[index]


def test_inbox_refuses_an_expired_message_in_a_batch_and_keeps_the_rest(
    net: Net, security: SecurityConfig
) -> None:
    fresh = json.loads(envelope(net))
    stale = {**json.loads(envelope(net)), "expires_at": 1.0}
    body = json.dumps([fresh, stale]).encode()
    headers = {**auth(security), **security.sign(fresh["message_id"], body)}
    response = signed_post(net, security, body, headers)
    assert response.status_code == 202
    (refused,) = response.json()["refused"]
    assert (refused["message_id"], refused["error"]) == (stale["message_id"], "expired")
    assert len(net.agents["agent-b"].queue) == 1
    record = net.agents["agent-b"].messages.get(stale["message_id"])
    assert record is not None
    assert record.status.value == "expired"


def test_an_envelope_without_trace_context_continues_the_hubs_http_request_trace(
    net: Net, security: SecurityConfig, telemetry: TelemetryCapture
) -> None:
    # What an uninstrumented client (say curl, through the gateway) posts: no traceparent in
    # the envelope, only in the HTTP request that the gateway's CLIENT span made.
    message, _ = new_message(
        "agent-a", "agent-b", "request", {"n": 1}, "normal", now=0, timeout=1e10
    )
    body = message.to_json().encode()
    assert message.headers == {}
    caller = telemetry.tracer_provider.get_tracer("test").start_span("caller")
    headers = {**security.request_headers("agent-a"), **security.sign(message.message_id, body)}
    propagate.inject(headers, context=trace.set_span_in_context(caller))

    async def scenario() -> httpx.Response:
        await net.register("agent-a", "agent-b")
        response = await net.client.post("http://hub/messages", content=body, headers=headers)
        await net.agents["agent-b"].process_next()
        return response

    assert run(scenario).status_code == 202
    caller.end()
    hub_server = telemetry.span("POST /messages")
    routed = telemetry.span("route agent-b")
    processed = telemetry.span("process agent-b")
    trace_id = caller.get_span_context().trace_id
    assert {s.context.trace_id for s in (hub_server, routed, processed)} == {trace_id}
    assert hub_server.parent is not None
    assert hub_server.parent.span_id == caller.get_span_context().span_id
    assert routed.parent is not None
    assert routed.parent.span_id == hub_server.context.span_id
    assert processed.parent is not None
    assert processed.parent.span_id == routed.context.span_id
    assert processed.kind is SpanKind.CONSUMER


def test_a_batch_is_one_client_span_linked_to_each_message_and_parent_of_the_request(
    net: Net, telemetry: TelemetryCapture
) -> None:
    async def scenario() -> None:
        await net.register("agent-a", "agent-b")
        sender = net.agents["agent-a"]
        await asyncio.gather(
            *(sender.send_message("agent-b", MessageType.REQUEST, {"n": n}) for n in range(4))
        )

    run(scenario)
    sends = {s.context.span_id for s in telemetry.spans("send agent-b")}
    assert len(sends) == 4
    batches = [s for s in telemetry.spans("send") if s.kind is SpanKind.CLIENT]
    # Sends that pile up while a request is in flight leave the sender as one POST; the hub
    # forwards what one POST brought it for agent-b as one POST to its inbox.
    sender_batches = [s for s in batches if s.parent is None]
    hub_batches = [s for s in batches if s.parent is not None]
    assert sender_batches
    assert hub_batches
    for batch in batches:
        linked = {link.context.span_id for link in batch.links}
        assert batch.attributes["messaging.batch.message_count"] == len(linked) > 1  # type: ignore[index]
        assert linked <= sends
    for batch in sender_batches:  # a trace of its own, carried by the request to the hub
        assert "messaging.destination.name" not in batch.attributes  # type: ignore[operator]
        assert [s for s in telemetry.spans("POST /messages") if same(s.parent, batch.context)]
    for batch in hub_batches:  # inside the hub's request, carried on to the inbox
        assert batch.attributes["messaging.destination.name"] == "agent-b"  # type: ignore[index]
        (hub_request,) = [
            s for s in telemetry.spans("POST /messages") if same(s.context, batch.parent)
        ]
        assert any(same(hub_request.parent, b.context) for b in sender_batches)
        assert [s for s in telemetry.spans("POST /inbox") if same(s.parent, batch.context)]


def same(one: SpanContext | None, other: SpanContext | None) -> bool:
    """The same span, whether or not one side is a remote (extracted) context."""
    return one is not None and other is not None and one.span_id == other.span_id


def test_remote_sends_and_broadcasts_record_the_client_operation_duration(
    telemetry: TelemetryCapture, security: SecurityConfig
) -> None:
    net = Net(telemetry, security)

    async def scenario() -> None:
        await net.register("agent-a", "agent-b")
        await net.agents["agent-a"].send_message("agent-b", "request", {"n": 1})
        await net.agents["agent-a"].broadcast_message("notification", {})

    run(scenario)
    points = telemetry.points(
        "messaging.client.operation.duration", {"messaging.operation.type": "send"}
    )
    destinations = sorted(
        (p.attributes["messaging.destination.name"], p.attributes["agent.message.type"], p.count)
        for p in points
    )
    assert destinations == [("agent-b", "request", 1), ("broadcast", "notification", 1)]
    assert all("error.type" not in p.attributes for p in points)
