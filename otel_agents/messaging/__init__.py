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

HTTP agents (:class:`RemoteAgent`, :class:`HttpTransport`, the hub and inboxes) need the
``messaging`` extra (``pip install 'otel-agents[messaging]'``); in-process messaging needs only
the core install. The names below are imported on first use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otel_agents._extras import lazy_package

if TYPE_CHECKING:
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
    from otel_agents.messaging.message import (
        AgentMessage,
        AgentStatus,
        MessagePriority,
        MessageType,
    )
    from otel_agents.messaging.protocol import AgentCommunicationProtocol
    from otel_agents.messaging.queues import PriorityMessageQueue
    from otel_agents.messaging.records import MessageRecord, MessageStatus
    from otel_agents.messaging.registry import AgentInfo, Clock, StatusChange, SystemClock
    from otel_agents.messaging.remote import RemoteAgent
    from otel_agents.messaging.security import SecurityConfig
    from otel_agents.messaging.transport import HttpTransport, InProcessTransport, Transport

# Each public name and the module that defines it, imported by __getattr__ on first use.
_SOURCES: dict[str, str] = {
    "AgentCommunicationProtocol": "otel_agents.messaging.protocol",
    "AgentInfo": "otel_agents.messaging.registry",
    "AgentMessage": "otel_agents.messaging.message",
    "AgentStatus": "otel_agents.messaging.message",
    "Clock": "otel_agents.messaging.registry",
    "DEFAULT_CONFIG": "otel_agents.messaging.config",
    "DeliveryError": "otel_agents.messaging.errors",
    "DuplicateAgentError": "otel_agents.messaging.errors",
    "HttpTransport": "otel_agents.messaging.transport",
    "InProcessTransport": "otel_agents.messaging.transport",
    "InvalidMessageError": "otel_agents.messaging.errors",
    "InvalidPayloadError": "otel_agents.messaging.errors",
    "MessageExpiredError": "otel_agents.messaging.errors",
    "MessagePriority": "otel_agents.messaging.message",
    "MessageRecord": "otel_agents.messaging.records",
    "MessageStatus": "otel_agents.messaging.records",
    "MessageTooLargeError": "otel_agents.messaging.errors",
    "MessageType": "otel_agents.messaging.message",
    "PriorityMessageQueue": "otel_agents.messaging.queues",
    "QueueFullError": "otel_agents.messaging.errors",
    "RemoteAgent": "otel_agents.messaging.remote",
    "SecurityConfig": "otel_agents.messaging.security",
    "SecurityError": "otel_agents.messaging.errors",
    "StatusChange": "otel_agents.messaging.registry",
    "SystemClock": "otel_agents.messaging.registry",
    "Transport": "otel_agents.messaging.transport",
    "UnknownAgentError": "otel_agents.messaging.errors",
    "UnknownCapabilityError": "otel_agents.messaging.errors",
    "UnknownMessageError": "otel_agents.messaging.errors",
}

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


# Import a public name's module on first use and keep the name (PEP 562); dir() is __all__.
__getattr__, __dir__ = lazy_package(globals(), _SOURCES, lambda _source: "messaging")
