"""The protocol on a real nats-server (JetStream): the seed's API and semantics, no hub.

Each protocol built by ``make_nats_comm`` stands for one process: they share nothing but
the broker, so what one sees of another (registrations, messages, liveness) came through
NATS. Waits are bounded by generous deadlines; nothing asserts speed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.trace import SpanKind

from otel_agents import semconv as sc
from otel_agents.messaging import (
    AgentCommunicationProtocol,
    AgentStatus,
    DeliveryError,
    MessagePriority,
    MessageStatus,
    MessageType,
    NatsTransport,
    UnknownAgentError,
)
from otel_agents.testing import TelemetryCapture
from tests._nats import NatsServer
from tests._support import free_port
from tests._waits import eventually
from tests.messaging.conftest import FakeClock

pytestmark = pytest.mark.integration

Make = Callable[..., AgentCommunicationProtocol]
DEADLINE = 20.0


def test_seed_example_runs_on_nats_with_one_config_key(nats: NatsServer) -> None:
    comm = AgentCommunicationProtocol({"transport": nats.url})
    try:
        comm.register_agent(
            "monitoring_agent", "System Monitor",
            ["monitoring", "alerting"],
            "http://localhost:8001"
        )  # fmt: skip
        message_id = comm.send_message(
            "coordinator", "monitoring_agent",
            MessageType.TASK_ASSIGNMENT,
            {"task": "monitor_system", "priority": "high"},
            MessagePriority.HIGH
        )  # fmt: skip
        monitoring_agents = comm.find_agents_by_capability("monitoring")

        assert isinstance(comm.transport, NatsTransport)
        assert comm.get_message_status(message_id).status is MessageStatus.QUEUED
        assert [agent.agent_id for agent in monitoring_agents] == ["monitoring_agent"]
        received = comm.process_next("monitoring_agent")
        assert received is not None
        assert received.message_id == message_id
        assert received.payload == {"task": "monitor_system", "priority": "high"}
        assert received.priority is MessagePriority.HIGH
        assert comm.get_message_status(message_id).status is MessageStatus.PROCESSED
        assert comm.process_next("monitoring_agent") is None
        assert comm.get_queue_size("monitoring_agent") == 0
    finally:
        comm.stop()


def test_urgent_first_and_fifo_within_a_priority(make_nats_comm: Make) -> None:
    comm = make_nats_comm()
    comm.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    sent = [
        ("low-1", MessagePriority.LOW),
        ("normal-1", MessagePriority.NORMAL),
        ("urgent-1", MessagePriority.URGENT),
        ("normal-2", MessagePriority.NORMAL),
        ("high-1", MessagePriority.HIGH),
        ("urgent-2", MessagePriority.URGENT),
        ("low-2", MessagePriority.LOW),
    ]
    for label, priority in sent:
        comm.send_message("boss", "worker", MessageType.REQUEST, {"n": label}, priority)
    assert comm.get_queue_size("worker") == len(sent)
    order = []
    while (message := comm.process_next("worker")) is not None:
        order.append(message.payload["n"])
    assert order == ["urgent-1", "urgent-2", "high-1", "normal-1", "normal-2", "low-1", "low-2"]


def test_a_second_process_discovers_agents_and_sends_to_them(make_nats_comm: Make) -> None:
    """Registry and capability discovery come from the key-value bucket: no hub."""
    worker_side, sender_side = make_nats_comm(), make_nats_comm()
    worker_side.register_agent(
        "analyst", "Analyst", ["analysis"], "http://localhost:8002", {"region": "eu"}
    )
    found = eventually(
        lambda: sender_side.registry.lookup("analyst"), "the registration reaching the sender"
    )
    assert found.capabilities == ("analysis",)
    matches = sender_side.find_agents_by_capability("analysis", {"region": "eu"})
    assert [agent.agent_id for agent in matches] == ["analyst"]

    message_id = sender_side.send_message(
        "planner", "analyst", MessageType.TASK_ASSIGNMENT, {"task": "report"}
    )
    # The message is stored once send_message returns; process_next asks the broker without
    # waiting, and the answer can come a moment later on a loaded machine: ask again.
    received = eventually(lambda: worker_side.process_next("analyst"), "the message delivered")
    assert received.message_id == message_id
    assert worker_side.get_message_status(message_id).status is MessageStatus.PROCESSED

    worker_side.unregister_agent("analyst")
    eventually(lambda: sender_side.registry.lookup("analyst") is None, "the unregistration")
    with pytest.raises(UnknownAgentError):
        sender_side.send_message("planner", "analyst", MessageType.REQUEST, {})


def test_processes_with_other_heartbeat_settings_share_the_deployment(
    make_nats_comm: Make, caplog: pytest.LogCaptureFixture
) -> None:
    """The buckets' TTLs come from the first process's settings; a process with another
    heartbeat interval or message timeout joins (with a warning) instead of failing."""
    first = make_nats_comm({"heartbeat_interval": 10.0, "message_timeout": 7200.0})
    first.register_agent("reporter", "Reporter", ["reporting"], "http://localhost:8004")
    with caplog.at_level(logging.WARNING, logger="otel_agents.messaging"):
        second = make_nats_comm()  # the defaults: another agents TTL and status TTL
        eventually(lambda: second.registry.lookup("reporter"), "the registration")
    assert any("exists with other settings" in r.getMessage() for r in caplog.records)
    message_id = second.send_message("cli", "reporter", MessageType.REQUEST, {"n": 1})
    received = first.process_next("reporter")
    assert received is not None
    assert received.message_id == message_id


def test_a_silent_agent_goes_offline_and_a_heartbeat_brings_it_back(make_nats_comm: Make) -> None:
    config = {"heartbeat_interval": 0.2, "heartbeat_miss_limit": 2, "heartbeat_monitor": False}
    agent_side, observer = make_nats_comm(config), make_nats_comm(config)
    agent_side.register_agent("sensor", "Sensor", ["sense"], "http://localhost:8003")
    eventually(lambda: observer.registry.lookup("sensor"), "the registration")
    # Offline once more than heartbeat_interval * heartbeat_miss_limit pass without a beat.
    eventually(lambda: observer.check_heartbeats() == ["sensor"], "the agent going offline")
    assert observer.get_agent("sensor").status is AgentStatus.OFFLINE

    agent_side.heartbeat("sensor")
    eventually(
        lambda: observer.get_agent("sensor").status is AgentStatus.ONLINE,
        "the heartbeat bringing the agent back",
    )


def test_an_expired_message_is_recorded_expired_and_never_processed(
    make_nats_comm: Make,
) -> None:
    # Expiry is read from the protocol's clock: a fake one moved past message_timeout, not a
    # sleep racing a short timeout (a loaded machine may take longer than 0.3 s to send).
    clock = FakeClock(start=time.time())
    comm = make_nats_comm({"message_timeout": 30.0}, clock=clock)
    comm.register_agent("slow", "Slow", ["x"], "http://localhost:8004")
    ran: list[str] = []
    comm.register_handler("slow", lambda message: ran.append(message.message_id))
    message_id = comm.send_message("boss", "slow", MessageType.REQUEST, {"late": True})
    clock.advance(60.0)
    assert comm.process_next("slow") is None
    record = comm.get_message_status(message_id)
    assert record.status is MessageStatus.EXPIRED
    assert ran == []
    # Terminated on the broker, not redelivered: the term is sent from the broker's loop
    # after process_next returns, so waited for. A message left unacknowledged would stay
    # counted (ack pending, then pending again), never 0.
    eventually(lambda: comm.get_queue_size("slow") == 0, "the expired message terminated")


def test_broadcast_is_one_send_span_linked_from_each_process_span(
    make_nats_comm: Make, telemetry: TelemetryCapture
) -> None:
    comm = make_nats_comm()
    for agent_id in ("a", "b", "c"):
        comm.register_agent(agent_id, agent_id.upper(), ["x"], f"http://localhost/{agent_id}")
    ids = comm.broadcast_message("a", MessageType.NOTIFICATION, {"hello": "all"})
    assert len(ids) == 2
    assert comm.process_next("b") is not None
    assert comm.process_next("c") is not None

    (send,) = telemetry.spans("send broadcast")
    assert send.kind is SpanKind.PRODUCER
    assert send.attributes[sc.MESSAGING_SYSTEM] == "nats"
    assert send.attributes[sc.MESSAGING_BATCH_MESSAGE_COUNT] == 2
    processes = telemetry.spans("process broadcast")
    assert len(processes) == 2
    for span in processes:
        assert span.kind is SpanKind.CONSUMER
        assert [link.context.span_id for link in span.links] == [send.context.span_id]
        assert span.attributes[sc.MESSAGING_SYSTEM] == "nats"
        assert span.attributes[sc.AGENT_MESSAGE_DELIVERY_COUNT] == 1


def test_send_and_process_spans_are_one_trace_with_nats_attributes(
    make_nats_comm: Make, telemetry: TelemetryCapture
) -> None:
    sender, receiver = make_nats_comm(), make_nats_comm()
    receiver.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    eventually(lambda: sender.registry.lookup("worker"), "the registration")
    sender.send_message("boss", "worker", MessageType.REQUEST, {"x": 1})
    assert receiver.process_next("worker") is not None

    (send,) = telemetry.spans("send worker")
    (process,) = telemetry.spans("process worker")
    assert process.context.trace_id == send.context.trace_id
    assert process.parent is not None
    assert process.parent.span_id == send.context.span_id
    assert send.attributes[sc.MESSAGING_SYSTEM] == "nats"
    assert process.attributes[sc.MESSAGING_CONSUMER_GROUP_NAME] == "worker"
    assert process.attributes[sc.AGENT_MESSAGE_DELIVERY_COUNT] == 1
    points = telemetry.points(sc.MESSAGING_CLIENT_SENT_MESSAGES.name)
    assert [p.attributes[sc.MESSAGING_SYSTEM] for p in points] == ["nats"]


def test_consumer_metrics_carry_the_consumer_group_over_nats(
    make_nats_comm: Make, telemetry: TelemetryCapture
) -> None:
    """The messaging conventions' consumer metrics (``messaging.client.consumed.messages``,
    ``messaging.process.duration``) make ``messaging.consumer.group.name`` "Conditionally
    Required if applicable" (model/messaging/metrics.yaml, metric.messaging.consumer
    .attributes): a JetStream durable consumer is one, as the process span already says.
    The producer's ``messaging.client.sent.messages`` has no such attribute."""
    sender, receiver = make_nats_comm(), make_nats_comm()
    receiver.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    eventually(lambda: sender.registry.lookup("worker"), "the registration")
    sender.send_message("boss", "worker", MessageType.REQUEST, {"x": 1})
    assert receiver.process_next("worker") is not None

    for spec in (sc.MESSAGING_CLIENT_CONSUMED_MESSAGES, sc.MESSAGING_PROCESS_DURATION):
        (point,) = telemetry.points(spec.name)
        assert point.attributes[sc.MESSAGING_CONSUMER_GROUP_NAME] == "worker", spec.name
        assert point.attributes[sc.MESSAGING_SYSTEM] == "nats"
    (sent,) = telemetry.points(sc.MESSAGING_CLIENT_SENT_MESSAGES.name)
    assert sc.MESSAGING_CONSUMER_GROUP_NAME not in sent.attributes


def test_consumer_lag_counts_what_waits_for_each_agent(
    make_nats_comm: Make, telemetry: TelemetryCapture
) -> None:
    comm = make_nats_comm()
    comm.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    for n in range(3):
        comm.send_message("boss", "worker", MessageType.REQUEST, {"n": n})
    (point,) = telemetry.points(sc.AGENT_MESSAGE_CONSUMER_LAG.name)
    assert point.value == 3
    assert dict(point.attributes) == {
        sc.MESSAGING_SYSTEM: "nats",
        sc.MESSAGING_DESTINATION_NAME: "worker",
        sc.MESSAGING_CONSUMER_GROUP_NAME: "worker",
    }
    comm.process_pending("worker")
    # The readings are reused for a second, then read again.
    eventually(
        lambda: [p.value for p in telemetry.points(sc.AGENT_MESSAGE_CONSUMER_LAG.name)] == [0],
        "the lag going back to 0",
    )


def test_the_lag_of_an_offline_agent_is_reported_by_the_processes_that_see_it_offline(
    make_nats_comm: Make,
) -> None:
    """A dead agent cannot report that its messages pile up: every process that holds it
    offline does, so the lag panel and rule see a dead agent as well as a slow one."""
    config = {"heartbeat_interval": 0.2, "heartbeat_miss_limit": 2, "heartbeat_monitor": False}
    silent, observer = make_nats_comm(config), make_nats_comm(config)
    silent.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    eventually(lambda: observer.registry.lookup("worker"), "the registration")
    for n in range(3):
        observer.send_message("boss", "worker", MessageType.REQUEST, {"n": n})
    assert observer.transport.lag() == []  # online, and consumed in another process
    # Offline once more than heartbeat_interval * heartbeat_miss_limit pass without a beat.
    eventually(lambda: observer.check_heartbeats() == ["worker"], "the agent going offline")
    # The readings are reused for a second, then read again.
    eventually(lambda: observer.transport.lag() == [("worker", "worker", 3)], "the offline lag")


def test_an_unreachable_broker_is_a_clear_error_within_the_timeout(
    telemetry: TelemetryCapture,
) -> None:
    url = f"nats://someone:s3cret-pass@127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(DeliveryError) as raised:
        AgentCommunicationProtocol({"transport": url, "broker_timeout": 0.5})
    assert raised.value.reason == "broker_unreachable"
    assert "nats-server is running" in str(raised.value)
    assert "s3cret" not in str(raised.value)
    assert "someone" not in str(raised.value)
    assert time.monotonic() - started < DEADLINE  # bounded, never a hang


def test_credentials_in_the_url_never_reach_spans_or_repr(
    nats: NatsServer, telemetry: TelemetryCapture
) -> None:
    url = nats.url.replace("nats://", "nats://someone:s3cret-pass@")
    comm = AgentCommunicationProtocol(
        {"transport": url},
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
    )
    try:
        comm.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
        comm.send_message("boss", "worker", MessageType.REQUEST, {"x": 1})
        comm.process_next("worker")
        shown = repr(comm.transport) + repr([dict(s.attributes or {}) for s in telemetry.spans()])
        assert "s3cret" not in shown
        assert "someone" not in shown
    finally:
        comm.stop()


def test_the_sender_sees_the_outcome_settled_in_another_process(make_nats_comm: Make) -> None:
    sender, worker_side = make_nats_comm(), make_nats_comm({"max_delivery_attempts": 1})
    worker_side.register_agent("worker", "Worker", ["work"], "http://localhost:8001")

    def handler(message: Any) -> None:
        if message.payload.get("fail"):
            raise RuntimeError("no")

    worker_side.register_handler("worker", handler)
    eventually(lambda: sender.registry.lookup("worker"), "the registration")
    good = sender.send_message("boss", "worker", MessageType.REQUEST, {})
    bad = sender.send_message("boss", "worker", MessageType.REQUEST, {"fail": True})
    assert sender.get_message_status(good).status is MessageStatus.QUEUED
    assert worker_side.process_pending("worker") == 2

    eventually(
        lambda: sender.get_message_status(good).status is MessageStatus.PROCESSED, "processed"
    )
    record = eventually(
        lambda: (r := sender.get_message_status(bad)).status is MessageStatus.DEAD_LETTERED and r,
        "dead-lettered",
    )
    assert record.error_type == "RuntimeError"


def test_after_a_broker_restart_registrations_and_messages_flow_again(
    make_nats_comm: Make, nats: NatsServer
) -> None:
    """Pulls and the bucket watch are renewed on reconnect, not left to time out."""
    worker_side, sender = make_nats_comm(), make_nats_comm()
    worker_side.register_agent("one", "One", ["x"], "http://localhost:1")
    eventually(lambda: sender.registry.lookup("one"), "the first registration")
    nats.restart(down_for=0.5)

    worker_side.register_agent("two", "Two", ["x"], "http://localhost:2")
    deadline = time.monotonic() + 10.0  # the watch's own recovery takes longer than this
    while sender.registry.lookup("two") is None:
        assert time.monotonic() < deadline, "the watch was not renewed after the restart"
        time.sleep(0.05)
    message_id = sender.send_message("boss", "two", MessageType.REQUEST, {})
    received = worker_side.process_next("two")
    assert received is not None
    assert received.message_id == message_id


def test_the_demo_swarm_exchanges_its_messages_through_nats(nats: NatsServer) -> None:
    from otel_agents._demo import Swarm

    with Swarm(configure_telemetry=False, refresh=0.5, transport=nats.url) as swarm:
        assert isinstance(swarm.comm.transport, NatsTransport)
        deadline = time.monotonic() + DEADLINE
        processed: list[Any] = []
        while time.monotonic() < deadline and len(processed) < 3:
            swarm.run_for(0.2)
            processed = swarm.comm.get_message_history(status=MessageStatus.PROCESSED)
        assert len(processed) >= 3
        assert {r.message.recipient_id for r in processed} >= {"researcher", "planner"}


def test_queue_size_is_read_now_or_refused_never_an_old_reading(
    make_nats_comm: Make, nats: NatsServer
) -> None:
    """``get_queue_size`` asks the broker each time: with the broker gone it raises a
    DeliveryError within broker_timeout rather than repeat the last count."""
    comm = make_nats_comm({"broker_timeout": 0.5})
    comm.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    comm.send_message("boss", "worker", MessageType.REQUEST, {"n": 1})
    assert comm.get_queue_size("worker") == 1
    nats.stop()
    with pytest.raises(DeliveryError, match="queue size"):
        comm.get_queue_size("worker")
