"""The seed's communication example, as written there, bar the import line."""

from __future__ import annotations

import pytest

from otel_agents.messaging import (
    AgentCommunicationProtocol,
    MessagePriority,
    MessageStatus,
    MessageType,
    UnknownAgentError,
)


def test_seed_example_runs_verbatim() -> None:
    # from core.agent_communication import AgentCommunicationProtocol, MessageType, MessagePriority

    # Initialize communication protocol
    comm = AgentCommunicationProtocol()

    # Register agent
    comm.register_agent(
        "monitoring_agent", "System Monitor",
        ["monitoring", "alerting"],
        "http://localhost:8001"
    )  # fmt: skip

    # Send message
    message_id = comm.send_message(
        "coordinator", "monitoring_agent",
        MessageType.TASK_ASSIGNMENT,
        {"task": "monitor_system", "priority": "high"},
        MessagePriority.HIGH
    )  # fmt: skip

    # Find agents by capability
    monitoring_agents = comm.find_agents_by_capability("monitoring")

    assert isinstance(message_id, str)
    assert comm.get_message_status(message_id).status is MessageStatus.QUEUED
    assert [agent.agent_id for agent in monitoring_agents] == ["monitoring_agent"]
    received = comm.process_next("monitoring_agent")
    assert received is not None
    assert received.sender_id == "coordinator"
    assert received.payload == {"task": "monitor_system", "priority": "high"}
    assert received.priority is MessagePriority.HIGH


def test_require_registered_sender_rejects_the_unregistered_coordinator() -> None:
    """Opt-in strictness: with it, the seed's unregistered "coordinator" is an unknown sender."""
    comm = AgentCommunicationProtocol({"require_registered_sender": True})
    comm.register_agent(
        "monitoring_agent", "System Monitor", ["monitoring", "alerting"], "http://localhost:8001"
    )
    with pytest.raises(UnknownAgentError, match="sender_id='coordinator' is not a registered"):
        comm.send_message(
            "coordinator",
            "monitoring_agent",
            MessageType.TASK_ASSIGNMENT,
            {"task": "monitor_system", "priority": "high"},
            MessagePriority.HIGH,
        )
    assert comm.get_message_history() == []
