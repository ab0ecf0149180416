"""How ``AgentCommunicationProtocol`` sends: one message, a broadcast, and a failed delivery.

Separate from the protocol's facade (:mod:`._protocol`: registry, discovery, history and
lifecycle) because this is the send path's mechanics: the sender and envelope checks, the
PRODUCER span, delivery through the transport, and the record and count of a message that
could not be delivered. The hub's router records its own failed forwards through
:meth:`ProtocolSending.delivery_failed` too.
"""

from __future__ import annotations

import json
from typing import Any

from otel_agents._exception_events import exception_text
from otel_agents.genai._context import check_conversation_id, current_conversation_id
from otel_agents.messaging._errors import DeliveryError
from otel_agents.messaging._message import (
    AgentMessage,
    MessagePriority,
    MessageType,
    body_size,
    validate_agent_id,
)
from otel_agents.messaging._records import MessageStatus
from otel_agents.messaging._registry import AgentInfo, AgentRegistry
from otel_agents.messaging._runtime import (
    AgentRuntime,
    broadcast_copies,
    broadcast_recipients,
)
from otel_agents.messaging._span_scope import mark_failed
from otel_agents.messaging._transport import Transport
from otel_agents.semconv import (
    ERROR_TYPE,
    MESSAGING_BROADCAST_DESTINATION,
    MESSAGING_OPERATION_PROCESS,
)

__all__ = ["ProtocolSending"]


class ProtocolSending(AgentRuntime):
    """The sending half of :class:`~otel_agents.messaging.AgentCommunicationProtocol`.

    The protocol sets ``registry`` and ``transport`` in its ``__init__``.
    """

    registry: AgentRegistry
    transport: Transport

    def _prepare(
        self,
        sender_id: str,
        message_type: Any,
        payload: Any,
        priority: Any,
        recipient: str,
        conversation_id: Any = None,
    ) -> tuple[AgentInfo, AgentMessage, str]:
        """The sender and a checked new envelope (nothing recorded yet). A message sent while
        handling a conversation (``genai.invoke_agent``, or processing a message of one) stays
        in that conversation unless the sender names another."""
        conversation = check_conversation_id(conversation_id) or current_conversation_id()
        sender = self.registry.lookup(sender_id) if isinstance(sender_id, str) else None
        if sender is None:
            if self.config["require_registered_sender"]:
                sender = self.registry.get(sender_id, "sender_id")  # raises UnknownAgentError
            else:  # the seed's coordinator sends without registering
                validate_agent_id(sender_id, "sender_id")
                sender = AgentInfo(sender_id, sender_id, (), "")
        message, text = self.envelope(sender_id, recipient, message_type, payload, priority)
        message.conversation_id = conversation
        return sender, message, text

    def send_message(
        self,
        sender_id: str,
        recipient_id: str,
        message_type: MessageType | str,
        payload: Any,
        priority: MessagePriority | str = MessagePriority.NORMAL,
        *,
        conversation_id: str | None = None,
    ) -> str:
        """Send one message; return its id. Raises on bad input (nothing recorded) and
        :class:`DeliveryError` when it cannot be delivered (recorded and counted)."""
        recipient = self.registry.get(recipient_id, "recipient_id")
        sender, message, text = self._prepare(
            sender_id, message_type, payload, priority, recipient_id, conversation_id
        )
        with self.telemetry.send_span(
            message,
            sender_name=sender.name,
            recipient_name=recipient.name,
            body_size=body_size(text),
        ):
            self._deliver(message, recipient)
        return message.message_id

    async def send_message_async(
        self,
        sender_id: str,
        recipient_id: str,
        message_type: MessageType | str,
        payload: Any,
        priority: MessagePriority | str = MessagePriority.NORMAL,
        *,
        conversation_id: str | None = None,
    ) -> str:
        """:meth:`send_message` for coroutines: a broker's confirmation is awaited, not
        waited for, so many sends can be in flight from one event loop."""
        recipient = self.registry.get(recipient_id, "recipient_id")
        sender, message, text = self._prepare(
            sender_id, message_type, payload, priority, recipient_id, conversation_id
        )
        with self.telemetry.send_span(
            message,
            sender_name=sender.name,
            recipient_name=recipient.name,
            body_size=body_size(text),
        ):
            self.messages.add(message, message.created_at)
            try:
                await self.transport.deliver_async(message, recipient)
            except Exception as exc:
                raise self.delivery_failed(message, exc) from exc
            self.telemetry.record_sent(message)
        return message.message_id

    def broadcast_message(
        self,
        sender_id: str,
        message_type: MessageType | str,
        payload: Any,
        priority: MessagePriority | str = MessagePriority.NORMAL,
    ) -> list[str]:
        """Send a copy to every registered agent but the sender and offline ones; one send
        span, linked from every recipient's process span. Returns the copies' ids; a copy
        that could not be delivered is recorded as failed and marks the span failed."""
        sender, template, text = self._prepare(
            sender_id, message_type, payload, priority, MESSAGING_BROADCAST_DESTINATION
        )
        recipients = broadcast_recipients(sender_id, self.registry.agents())
        ids: list[str] = []
        failures: list[DeliveryError] = []
        with self.telemetry.send_span(
            template,
            sender_name=sender.name,
            body_size=body_size(text),
            broadcast_count=len(recipients),
        ) as span:
            # Each copy gets a payload of its own: handlers in this process may change theirs.
            for copy, agent in broadcast_copies(template, recipients, lambda: json.loads(text)):
                ids.append(copy.message_id)
                try:
                    self._deliver(copy, agent)
                except DeliveryError as exc:
                    failures.append(exc)
            if failures:
                mark_failed(span, failures[0])
        return ids

    def _deliver(self, message: AgentMessage, recipient: AgentInfo) -> None:
        self.messages.add(message, message.created_at)
        try:
            self.transport.deliver(message, recipient)
        except Exception as exc:
            raise self.delivery_failed(message, exc) from exc
        self.telemetry.record_sent(message)

    def delivery_failed(
        self, message: AgentMessage, exc: Exception, *, routed: bool = False
    ) -> DeliveryError:
        """Record that ``message`` could not be delivered; return the error to raise.

        ``routed``: the hub failed to forward it (see ``MessagingTelemetry.record_sent``).
        """
        if not isinstance(exc, DeliveryError):
            exc = DeliveryError(
                f"delivering to {message.recipient_id!r} failed: {exception_text(exc)}",
                reason=type(exc).__qualname__,
            )
        self.messages.update(
            message.message_id, MessageStatus.FAILED, self.clock.time(), str(exc), exc.reason
        )
        self.telemetry.record_sent(message, exc.reason, routed=routed)
        return exc

    def _fail(self, message: AgentMessage, reason: str, detail: str) -> None:
        self.messages.update(
            message.message_id, MessageStatus.FAILED, self.clock.time(), detail, reason
        )
        attributes = self.telemetry.metric_attributes(
            MESSAGING_OPERATION_PROCESS,
            message.recipient_id,
            message.message_type,
            message.priority,
        )
        self.telemetry.failed.add(1, {**attributes, ERROR_TYPE: reason})
