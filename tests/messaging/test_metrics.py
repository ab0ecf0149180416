"""Messaging metrics: names, units, attributes, and what moves them."""

from __future__ import annotations

import pytest

from otel_agents.messaging import (
    AgentCommunicationProtocol,
    MessagePriority,
    MessageType,
    QueueFullError,
)
from otel_agents.semconv import SEMCONV_DURATION_BUCKETS
from otel_agents.testing import TelemetryCapture
from tests.messaging.conftest import FakeClock

SENT = {
    "messaging.system": "otel_agents",
    "messaging.operation.name": "send",
    "messaging.destination.name": "monitoring_agent",
    "agent.message.type": "task_assignment",
    "agent.message.priority": "high",
}
PROCESSED = {**SENT, "messaging.operation.name": "process"}


def send(comm: AgentCommunicationProtocol, payload: object = None) -> str:
    return comm.send_message(
        "coordinator",
        "monitoring_agent",
        MessageType.TASK_ASSIGNMENT,
        payload or {"task": "x"},
        MessagePriority.HIGH,
    )


def test_sent_messages_count_by_destination_type_and_priority(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture
) -> None:
    send(comm)
    send(comm)
    metric = telemetry.metric("messaging.client.sent.messages")
    assert metric.unit == "{message}"
    (point,) = telemetry.points("messaging.client.sent.messages")
    assert dict(point.attributes) == SENT
    assert point.value == 2


def test_processing_records_consumed_duration_and_latency(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture, clock: FakeClock
) -> None:
    send(comm)
    clock.advance(2.5)
    comm.process_next("monitoring_agent")
    (consumed,) = telemetry.points("messaging.client.consumed.messages")
    assert dict(consumed.attributes) == PROCESSED
    assert consumed.value == 1
    assert telemetry.metric("messaging.process.duration").unit == "s"
    (duration,) = telemetry.points("messaging.process.duration")
    assert dict(duration.attributes) == PROCESSED
    assert duration.count == 1
    assert telemetry.metric("agent.message.latency").unit == "s"
    (latency,) = telemetry.points("agent.message.latency")
    assert latency.sum == pytest.approx(2.5)


def test_process_duration_has_the_messaging_conventions_bucket_advice(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture
) -> None:
    """``messaging.process.duration`` carries the boundaries the messaging conventions
    advise for it (docs/messaging/messaging-metrics.md: "This metric SHOULD be specified
    with ExplicitBucketBoundaries ... of [ 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5,
    0.75, 1, 2.5, 5, 7.5, 10 ]"), as ``messaging.client.operation.duration`` does."""
    send(comm)
    comm.process_next("monitoring_agent")
    (duration,) = telemetry.points("messaging.process.duration")
    advised = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
    assert tuple(duration.explicit_bounds) == advised


def test_handler_failure_counts_with_error_type(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture
) -> None:
    def boom(message: object) -> None:
        raise KeyError("missing")

    comm.register_handler("monitoring_agent", boom)
    send(comm)
    comm.process_next("monitoring_agent")
    (failed,) = telemetry.points("agent.message.failed")
    assert dict(failed.attributes) == {**PROCESSED, "error.type": "KeyError"}
    (duration,) = telemetry.points("messaging.process.duration", {"error.type": "KeyError"})
    assert duration.count == 1


def test_expired_messages_are_counted_not_processed(
    make_comm: object, telemetry: TelemetryCapture, clock: FakeClock
) -> None:
    comm: AgentCommunicationProtocol = make_comm({"message_timeout": 10})  # type: ignore[operator]
    comm.register_agent("coordinator", "C", ["planning"], "http://c")
    comm.register_agent("monitoring_agent", "M", ["monitoring"], "http://m")
    handled: list[object] = []
    comm.register_handler("monitoring_agent", handled.append)
    message_id = send(comm)
    clock.advance(10.5)
    assert comm.process_next("monitoring_agent") is None
    assert handled == []
    record = comm.get_message_status(message_id)
    assert record.status.value == "expired"
    assert record.error is not None
    assert record.error.startswith("expired after 10.500 s (message_timeout is 10 s)")
    (expired,) = telemetry.points("agent.message.expired")
    assert dict(expired.attributes) == PROCESSED
    assert telemetry.spans("process monitoring_agent") == []


def test_queue_full_fails_the_send_and_counts_it(
    make_comm: object, telemetry: TelemetryCapture
) -> None:
    comm: AgentCommunicationProtocol = make_comm({"max_queue_size": 1})  # type: ignore[operator]
    comm.register_agent("coordinator", "C", ["planning"], "http://c")
    comm.register_agent("monitoring_agent", "M", ["monitoring"], "http://m")
    send(comm)
    with pytest.raises(QueueFullError, match="inbox queue of 'monitoring_agent' is full"):
        send(comm)
    points = telemetry.points("messaging.client.sent.messages", {"error.type": "queue_full"})
    assert [p.value for p in points] == [1]
    (failed,) = telemetry.points("agent.message.failed")
    assert dict(failed.attributes) == {**SENT, "error.type": "queue_full"}
    span = telemetry.spans("send monitoring_agent")[-1]
    assert span.attributes["error.type"] == "queue_full"  # type: ignore[index]


OPERATION = {**SENT, "messaging.operation.type": "send"}


def test_send_records_the_client_operation_duration(
    make_comm: object, telemetry: TelemetryCapture
) -> None:
    """``messaging.client.operation.duration`` (s, the conventions' buckets) per send, with
    ``error.type`` for a failed one."""
    comm: AgentCommunicationProtocol = make_comm({"max_queue_size": 1})  # type: ignore[operator]
    comm.register_agent("coordinator", "C", ["planning"], "http://c")
    comm.register_agent("monitoring_agent", "M", ["monitoring"], "http://m")
    send(comm)
    with pytest.raises(QueueFullError):
        send(comm)
    metric = telemetry.metric("messaging.client.operation.duration")
    assert metric.unit == "s"
    by_attributes = {tuple(sorted(p.attributes.items())): p for p in metric.data.data_points}
    ok = by_attributes[tuple(sorted(OPERATION.items()))]
    assert ok.count == 1
    assert tuple(ok.explicit_bounds) == SEMCONV_DURATION_BUCKETS
    failed = by_attributes[tuple(sorted({**OPERATION, "error.type": "queue_full"}.items()))]
    assert failed.count == 1
    assert len(by_attributes) == 2


def test_queue_depth_gauge_reports_each_priority(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture
) -> None:
    send(comm)
    comm.send_message("coordinator", "monitoring_agent", "request", {}, "urgent")
    assert telemetry.metric("agent.message.queue.depth").unit == "{message}"
    depth = {
        p.attributes["agent.message.priority"]: p.value
        for p in telemetry.points(
            "agent.message.queue.depth", {"gen_ai.agent.id": "monitoring_agent"}
        )
    }
    assert depth == {"urgent": 1, "high": 1, "normal": 0, "low": 0}


def test_agents_by_status_and_registrations(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture
) -> None:
    comm.update_agent_status("analyst", "busy")
    by_status = {
        p.attributes["agent.status"]: p.value for p in telemetry.points("agent.registry.agents")
    }
    assert by_status == {"online": 2, "busy": 1, "offline": 0, "error": 0}
    assert telemetry.metric("agent.registry.agents").unit == "{agent}"
    (registrations,) = telemetry.points("agent.registry.registrations")
    assert registrations.value == 3


def test_heartbeat_age_gauge_reads_the_monotonic_clock(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture, clock: FakeClock
) -> None:
    clock.advance(7)
    comm.heartbeat("analyst")
    ages = {
        p.attributes["gen_ai.agent.id"]: p.value for p in telemetry.points("agent.heartbeat.age")
    }
    assert ages == {"coordinator": 7.0, "monitoring_agent": 7.0, "analyst": 0.0}
    assert telemetry.metric("agent.heartbeat.age").unit == "s"


def test_metric_attributes_never_carry_message_ids_or_payloads(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture
) -> None:
    message_id = send(comm, {"secret": "s3cr3t"})
    comm.process_next("monitoring_agent")
    for name, metric in telemetry.metrics().items():
        for point in metric.data.data_points:
            shown = repr(dict(point.attributes or {}))
            assert message_id not in shown, name
            assert "s3cr3t" not in shown, name
