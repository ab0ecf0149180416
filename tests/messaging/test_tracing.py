"""Spans by the messaging semantic conventions, and trace context through the envelope."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from opentelemetry import baggage, context, propagate
from opentelemetry.trace import SpanKind, StatusCode

from otel_agents.messaging import (
    AgentCommunicationProtocol,
    AgentMessage,
    MessagePriority,
    MessageStatus,
    MessageType,
)
from otel_agents.testing import TelemetryCapture


def send(comm: AgentCommunicationProtocol, **kwargs: Any) -> str:
    return comm.send_message(
        kwargs.pop("sender", "coordinator"),
        kwargs.pop("recipient", "monitoring_agent"),
        kwargs.pop("message_type", MessageType.TASK_ASSIGNMENT),
        kwargs.pop("payload", {"task": "monitor_system", "secret": "s3cr3t-payload"}),
        kwargs.pop("priority", MessagePriority.HIGH),
        **kwargs,
    )


def test_send_span_is_a_producer_span_named_after_the_recipient(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture
) -> None:
    message_id = send(comm, conversation_id="conv-1")
    span = telemetry.span("send monitoring_agent")
    assert span.kind is SpanKind.PRODUCER
    assert span.parent is None
    assert dict(span.attributes or {}) == {
        "messaging.system": "otel_agents",
        "messaging.operation.name": "send",
        "messaging.operation.type": "send",
        "messaging.destination.name": "monitoring_agent",
        "messaging.message.id": message_id,
        "messaging.message.conversation_id": "conv-1",
        "messaging.message.body.size": len('{"task":"monitor_system","secret":"s3cr3t-payload"}'),
        "agent.message.type": "task_assignment",
        "agent.message.priority": "high",
        "gen_ai.agent.id": "coordinator",
        "gen_ai.agent.name": "Coordinator",
        "agent.message.recipient.id": "monitoring_agent",
        "agent.message.recipient.name": "System Monitor",
    }


def test_process_span_is_a_consumer_child_of_the_send_span(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture
) -> None:
    message_id = send(comm)
    comm.process_next("monitoring_agent")
    sent = telemetry.span("send monitoring_agent")
    processed = telemetry.span("process monitoring_agent")
    assert processed.kind is SpanKind.CONSUMER
    assert processed.parent is not None
    assert processed.parent.span_id == sent.context.span_id
    assert processed.context.trace_id == sent.context.trace_id
    assert list(processed.links) == []
    assert dict(processed.attributes or {}) == {
        "messaging.system": "otel_agents",
        "messaging.operation.name": "process",
        "messaging.operation.type": "process",
        "messaging.destination.name": "monitoring_agent",
        "messaging.message.id": message_id,
        "agent.message.type": "task_assignment",
        "agent.message.priority": "high",
        "gen_ai.agent.id": "monitoring_agent",
        "gen_ai.agent.name": "System Monitor",
        "agent.message.sender.id": "coordinator",
        "agent.message.sender.name": "Coordinator",
    }


def test_send_continues_the_callers_trace(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture
) -> None:
    tracer = telemetry.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("gateway request") as outer:
        send(comm)
    assert (
        telemetry.span("send monitoring_agent").parent.span_id == outer.get_span_context().span_id
    )  # type: ignore[union-attr]


def test_handler_work_nests_under_the_process_span(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture
) -> None:
    tracer = telemetry.tracer_provider.get_tracer("test")

    def handler(message: AgentMessage) -> None:
        with tracer.start_as_current_span("run tool"):
            pass

    comm.register_handler("monitoring_agent", handler, MessageType.TASK_ASSIGNMENT)
    with tracer.start_as_current_span("gateway request") as outer:
        send(comm)
    comm.process_next("monitoring_agent")
    tool = telemetry.span("run tool")
    processed = telemetry.span("process monitoring_agent")
    assert tool.parent is not None
    assert tool.parent.span_id == processed.context.span_id
    assert tool.context.trace_id == outer.get_span_context().trace_id


def test_baggage_travels_with_the_message(comm: AgentCommunicationProtocol) -> None:
    seen: list[object] = []
    comm.register_handler("monitoring_agent", lambda m: seen.append(baggage.get_baggage("tenant")))
    token = context.attach(baggage.set_baggage("tenant", "acme"))
    try:
        send(comm)
    finally:
        context.detach(token)
    comm.process_next("monitoring_agent")
    assert seen == ["acme"]


def test_envelope_headers_carry_w3c_traceparent(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture
) -> None:
    message = comm.get_message_status(send(comm)).message
    span = telemetry.span("send monitoring_agent")
    trace_id, span_id = span.context.trace_id, span.context.span_id
    assert message.headers["traceparent"].startswith(f"00-{trace_id:032x}-{span_id:016x}-")


def test_broadcast_has_one_send_span_linked_from_every_process_span(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture
) -> None:
    ids = comm.broadcast_message("coordinator", MessageType.NOTIFICATION, {"note": "hi"})
    comm.process_next("monitoring_agent")
    comm.process_next("analyst")
    sent = telemetry.span("send broadcast")
    assert sent.kind is SpanKind.PRODUCER
    assert sent.attributes is not None
    assert sent.attributes["messaging.batch.message_count"] == 2
    assert sent.attributes["messaging.destination.name"] == "broadcast"
    assert "messaging.message.id" not in sent.attributes
    processed = telemetry.spans("process broadcast")
    assert len(processed) == 2
    assert {s.attributes["messaging.message.id"] for s in processed} == set(ids)  # type: ignore[index]
    assert {s.attributes["gen_ai.agent.id"] for s in processed} == {"monitoring_agent", "analyst"}  # type: ignore[index]
    for span in processed:
        assert span.kind is SpanKind.CONSUMER
        assert span.parent is None
        assert [link.context.span_id for link in span.links] == [sent.context.span_id]
        assert span.context.trace_id != sent.context.trace_id


def test_broadcast_skips_the_sender_and_offline_agents(comm: AgentCommunicationProtocol) -> None:
    comm.update_agent_status("analyst", "offline")
    ids = comm.broadcast_message("coordinator", MessageType.NOTIFICATION, {})
    assert [comm.get_message_status(i).message.recipient_id for i in ids] == ["monitoring_agent"]


def test_failing_handler_marks_the_message_failed_and_the_next_one_still_runs(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture
) -> None:
    handled: list[str] = []

    def handler(message: AgentMessage) -> None:
        if message.payload.get("boom"):
            raise RuntimeError("handler exploded")
        handled.append(message.message_id)

    comm.register_handler("monitoring_agent", handler)
    bad = send(comm, payload={"boom": True})
    good = send(comm, payload={"boom": False})
    assert comm.process_pending("monitoring_agent") == 2
    assert handled == [good]
    record = comm.get_message_status(bad)
    assert record.status is MessageStatus.FAILED
    assert record.error_type == "RuntimeError"
    assert record.error == "handler raised RuntimeError: handler exploded"
    assert comm.get_message_status(good).status is MessageStatus.PROCESSED
    failed_span = next(
        s
        for s in telemetry.spans("process monitoring_agent")
        if (s.attributes or {}).get("messaging.message.id") == bad
    )
    assert failed_span.status.status_code is StatusCode.ERROR
    assert failed_span.attributes["error.type"] == "RuntimeError"  # type: ignore[index]
    assert [event.name for event in failed_span.events] == ["exception"]


MALFORMED = [
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",  # too short
    "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",  # uppercase
    "00-00000000000000000000000000000000-b7ad6b7169203331-01",  # all-zero trace id
    "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  # all-zero span id
    "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # version ff
    "x" * 10_240,  # 10 KB of junk
]


@pytest.mark.parametrize("traceparent", MALFORMED)
def test_malformed_traceparent_starts_a_new_trace(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture, traceparent: str
) -> None:
    message = comm.get_message_status(send(comm)).message
    message.headers["traceparent"] = traceparent
    message.headers["tracestate"] = "junk=" + "y" * 10_240
    message.headers["baggage"] = "%%%" * 4000
    comm.process_next("monitoring_agent")
    processed = telemetry.span("process monitoring_agent")
    assert processed.parent is None
    assert processed.context.trace_id != telemetry.span("send monitoring_agent").context.trace_id
    assert comm.get_message_status(message.message_id).status is MessageStatus.PROCESSED


def test_payload_never_reaches_span_attributes(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture
) -> None:
    send(comm)
    comm.process_next("monitoring_agent")
    for span in telemetry.spans():
        assert "s3cr3t-payload" not in repr(dict(span.attributes or {}))


def test_extract_failure_in_a_propagator_never_raises(
    comm: AgentCommunicationProtocol, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("propagator bug")

    message_id = send(comm)
    monkeypatch.setattr(propagate, "extract", broken)
    comm.process_next("monitoring_agent")
    assert comm.get_message_status(message_id).status is MessageStatus.PROCESSED


def test_hostile_baggage_in_an_envelope_is_checked_without_a_log_line(
    comm: AgentCommunicationProtocol, caplog: pytest.LogCaptureFixture
) -> None:
    """The SDK's propagator logs each malformed member it refuses: an envelope's baggage
    is network input, so it is checked first and only the valid members continue."""
    seen: list[dict[str, object]] = []
    comm.register_handler("monitoring_agent", lambda m: seen.append(dict(baggage.get_all())))
    message = comm.get_message_status(send(comm)).message
    message.headers["baggage"] = "tenant=acme," + ",".join(f"bad {i}" for i in range(179))
    caplog.set_level(logging.WARNING)

    comm.process_next("monitoring_agent")

    assert seen == [{"tenant": "acme"}]
    assert [r.getMessage()[:80] for r in caplog.records] == []


@pytest.mark.parametrize(
    "payload",
    [{"text": "\u4e2d\u00e9\U0001f600" * 10}, {"text": "caf\u00e9 \ud800"}, {"n": 1}],
    ids=["utf-8", "lone surrogate", "ascii"],
)
def test_body_size_is_the_bytes_the_payload_takes_in_the_envelope(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture, payload: dict[str, Any]
) -> None:
    """``messaging.message.body.size`` is "the size of the message body in bytes": the
    payload as the envelope carries it (UTF-8 JSON), not its ``\\uXXXX``-escaped form (6
    bytes per CJK character, 12 per emoji)."""
    wire = comm.get_message_status(send(comm, payload=payload)).message.to_wire()
    body = wire[wire.index(b'"payload":') + len(b'"payload":') :]  # the payload, then more
    size = (telemetry.span("send monitoring_agent").attributes or {})["messaging.message.body.size"]
    assert isinstance(size, int)
    assert json.loads(body[:size]) == payload  # exactly the payload's bytes
