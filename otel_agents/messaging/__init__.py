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
(the ASGI app :func:`create_hub_app`) and receive on their own inbox servers
(:func:`create_inbox_app`); ``otel-agents hub`` / ``otel-agents agent`` run them.

Agents on a NATS JetStream broker need no hub: ``AgentCommunicationProtocol({"transport":
"nats://127.0.0.1:4222"})`` (:class:`NatsTransport`, the ``nats`` extra) or
``otel-agents agent --nats URL``.

HTTP agents (:class:`RemoteAgent`, :class:`HttpTransport`, the hub and inboxes) need the
``messaging`` extra (``pip install 'otel-agents[messaging]'``); in-process messaging needs only
the core install. The names below are imported on first use (PEP 562); without the extra
they are placeholders that name it when used (``otel_agents.has_extra("messaging")`` tells).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otel_agents._extras import lazy_package

if TYPE_CHECKING:
    from otel_agents.messaging._config import DEFAULT_CONFIG
    from otel_agents.messaging._errors import (
        DeliveryError,
        DuplicateAgentError,
        DuplicateMessageError,
        InvalidMessageError,
        InvalidPayloadError,
        MessageExpiredError,
        MessageTooLargeError,
        QueueFullError,
        RegistryFullError,
        SecurityError,
        UnknownAgentError,
        UnknownCapabilityError,
        UnknownMessageError,
    )
    from otel_agents.messaging._hub import create_hub_app
    from otel_agents.messaging._inbox import create_inbox_app
    from otel_agents.messaging._message import (
        AgentMessage,
        AgentStatus,
        MessagePriority,
        MessageType,
    )
    from otel_agents.messaging._nats import NatsTransport
    from otel_agents.messaging._protocol import AgentCommunicationProtocol
    from otel_agents.messaging._queues import PriorityMessageQueue
    from otel_agents.messaging._records import DeadLetter, MessageRecord, MessageStatus
    from otel_agents.messaging._registry import AgentInfo, Clock, SystemClock
    from otel_agents.messaging._registry_status import StatusChange
    from otel_agents.messaging._remote import RemoteAgent
    from otel_agents.messaging._security import SecurityConfig
    from otel_agents.messaging._transport import HttpTransport, InProcessTransport, Transport

# Each public name and the module that defines it, imported by __getattr__ on first use.
_SOURCES: dict[str, str] = {
    "AgentCommunicationProtocol": "otel_agents.messaging._protocol",
    "AgentInfo": "otel_agents.messaging._registry",
    "AgentMessage": "otel_agents.messaging._message",
    "AgentStatus": "otel_agents.messaging._message",
    "Clock": "otel_agents.messaging._registry",
    "DEFAULT_CONFIG": "otel_agents.messaging._config",
    "DeadLetter": "otel_agents.messaging._records",
    "DeliveryError": "otel_agents.messaging._errors",
    "DuplicateAgentError": "otel_agents.messaging._errors",
    "DuplicateMessageError": "otel_agents.messaging._errors",
    "HttpTransport": "otel_agents.messaging._transport",
    "InProcessTransport": "otel_agents.messaging._transport",
    "InvalidMessageError": "otel_agents.messaging._errors",
    "InvalidPayloadError": "otel_agents.messaging._errors",
    "MessageExpiredError": "otel_agents.messaging._errors",
    "MessagePriority": "otel_agents.messaging._message",
    "MessageRecord": "otel_agents.messaging._records",
    "MessageStatus": "otel_agents.messaging._records",
    "MessageTooLargeError": "otel_agents.messaging._errors",
    "MessageType": "otel_agents.messaging._message",
    "NatsTransport": "otel_agents.messaging._nats",
    "PriorityMessageQueue": "otel_agents.messaging._queues",
    "QueueFullError": "otel_agents.messaging._errors",
    "RegistryFullError": "otel_agents.messaging._errors",
    "RemoteAgent": "otel_agents.messaging._remote",
    "SecurityConfig": "otel_agents.messaging._security",
    "SecurityError": "otel_agents.messaging._errors",
    "StatusChange": "otel_agents.messaging._registry_status",
    "SystemClock": "otel_agents.messaging._registry",
    "Transport": "otel_agents.messaging._transport",
    "UnknownAgentError": "otel_agents.messaging._errors",
    "UnknownCapabilityError": "otel_agents.messaging._errors",
    "UnknownMessageError": "otel_agents.messaging._errors",
    "create_hub_app": "otel_agents.messaging._hub",
    "create_inbox_app": "otel_agents.messaging._inbox",
}

__all__ = [
    "DEFAULT_CONFIG",
    "AgentCommunicationProtocol",
    "AgentInfo",
    "AgentMessage",
    "AgentStatus",
    "Clock",
    "DeadLetter",
    "DeliveryError",
    "DuplicateAgentError",
    "DuplicateMessageError",
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
    "NatsTransport",
    "PriorityMessageQueue",
    "QueueFullError",
    "RegistryFullError",
    "RemoteAgent",
    "SecurityConfig",
    "SecurityError",
    "StatusChange",
    "SystemClock",
    "Transport",
    "UnknownAgentError",
    "UnknownCapabilityError",
    "UnknownMessageError",
    "create_hub_app",
    "create_inbox_app",
]


# Import a public name's module on first use and keep the name (PEP 562); dir() is __all__.
__getattr__, __dir__ = lazy_package(
    globals(), _SOURCES, lambda source: "nats" if source.endswith("._nats") else "messaging"
)
