"""Agent messaging: registry, discovery, prioritized messages, broadcast and heartbeats.

Every message carries W3C trace context, so a conversation between agents is one trace::

    from otel_agents.messaging import AgentCommunicationProtocol, MessagePriority, MessageType

    comm = AgentCommunicationProtocol()
    comm.register_agent("monitoring_agent", "System Monitor", ["monitoring"], "http://localhost:8001")
    comm.register_agent("coordinator", "Coordinator", ["planning"], "http://localhost:8000")
    message_id = comm.send_message(
        "coordinator", "monitoring_agent", MessageType.TASK_ASSIGNMENT,
        {"task": "monitor_system"}, MessagePriority.HIGH,
    )
    comm.process_next("monitoring_agent")

Agents in separate processes are :class:`RemoteAgent` objects that talk through a hub
(:mod:`otel_agents.messaging.hub`) and receive on their own inbox servers
(:mod:`otel_agents.messaging.inbox`); ``otel-agents hub`` / ``otel-agents agent`` run them.
"""

from __future__ import annotations

from otel_agents.messaging.config import DEFAULT_CONFIG
from otel_agents.messaging.errors import (
    DeliveryError,
    DuplicateAgentError,
    InvalidMessageError,
    InvalidPayloadError,
    MessageExpiredError,
    MessageTooLargeError,
    QueueFullError,
    SecurityError,
    UnknownAgentError,
    UnknownCapabilityError,
    UnknownMessageError,
)
from otel_agents.messaging.message import AgentMessage, AgentStatus, MessagePriority, MessageType
from otel_agents.messaging.protocol import AgentCommunicationProtocol
from otel_agents.messaging.queues import PriorityMessageQueue
from otel_agents.messaging.records import MessageRecord, MessageStatus
from otel_agents.messaging.registry import AgentInfo, Clock, StatusChange, SystemClock
from otel_agents.messaging.remote import RemoteAgent
from otel_agents.messaging.security import SecurityConfig
from otel_agents.messaging.transport import HttpTransport, InProcessTransport, Transport

__all__ = [
    "DEFAULT_CONFIG",
    "AgentCommunicationProtocol",
    "AgentInfo",
    "AgentMessage",
    "AgentStatus",
    "Clock",
    "DeliveryError",
    "DuplicateAgentError",
    "HttpTransport",
    "InProcessTransport",
    "InvalidMessageError",
    "InvalidPayloadError",
    "MessageExpiredError",
    "MessagePriority",
    "MessageRecord",
    "MessageStatus",
    "MessageTooLargeError",
    "MessageType",
    "PriorityMessageQueue",
    "QueueFullError",
    "RemoteAgent",
    "SecurityConfig",
    "SecurityError",
    "StatusChange",
    "SystemClock",
    "Transport",
    "UnknownAgentError",
    "UnknownCapabilityError",
    "UnknownMessageError",
]
