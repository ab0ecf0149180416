"""``AgentCommunicationProtocol``: the seed's agent registry, discovery and message routing.

Every message is traced by the messaging conventions (see :mod:`._telemetry`) and counted;
every outcome (processed, expired, failed and why) is kept in a bounded history. Delivery
goes through a :class:`~otel_agents.messaging._transport.Transport`: in-process queues by
default, HTTP when the protocol is served as a hub (:mod:`otel_agents.messaging._hub`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from otel_agents._errors import MessagingError, invalid_value
from otel_agents._exception_events import exception_text
from otel_agents._export import export_envelope, write_json_atomic
from otel_agents._history import TimeRange
from otel_agents._runtime import PeriodicThread
from otel_agents._settings import DRAIN_TIMEOUT
from otel_agents.genai._context import current_conversation_id
from otel_agents.messaging import _telemetry as tel
from otel_agents.messaging._consumer import serve_until
from otel_agents.messaging._errors import DeliveryError
from otel_agents.messaging._handlers import Handler, HandlerRegistry
from otel_agents.messaging._message import (
    AgentMessage,
    AgentStatus,
    MessagePriority,
    MessageType,
    validate_agent_id,
)
from otel_agents.messaging._records import DeadLetter, MessageRecord, MessageStatus
from otel_agents.messaging._registry import (
    AgentInfo,
    AgentRegistry,
    Clock,
    StatusListener,
)
from otel_agents.messaging._runtime import (
    AgentRuntime,
    broadcast_copies,
    broadcast_recipients,
)
from otel_agents.messaging._transport import MessageSource, Transport, transport_for
from otel_agents.semconv import (
    ERROR_TYPE,
    MESSAGING_BROADCAST_DESTINATION,
    MESSAGING_OPERATION_PROCESS,
)

__all__ = ["AgentCommunicationProtocol"]

_logger = logging.getLogger("otel_agents.messaging")


class AgentCommunicationProtocol(AgentRuntime):
    """Registry, discovery, prioritized messaging, broadcast and heartbeats.

    Args:
        config: the seed's dict: ``heartbeat_interval``, ``message_timeout``,
            ``max_message_history``, plus ``heartbeat_miss_limit`` and ``max_queue_size``.
        transport: how messages reach recipients; in-process queues by default.
        clock: time source (inject a fake one in tests).
        tracer_provider: defaults to the global one.
        meter_provider: defaults to the global one.
    """

    def __init__(
        self,
        config: dict[str, Any] | None = None,
        *,
        transport: Transport | None = None,
        clock: Clock | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
    ) -> None:
        super().__init__(
            config, clock=clock, tracer_provider=tracer_provider, meter_provider=meter_provider
        )
        self.registry = AgentRegistry(
            self.telemetry,
            clock=self.clock,
            heartbeat_interval=self.config["heartbeat_interval"],
            heartbeat_miss_limit=self.config["heartbeat_miss_limit"],
        )
        # The config's ``transport`` (a NATS URL, say) when none is passed; a broker-backed
        # one connects here, so an unreachable broker fails now, with a clear error.
        self.transport: Transport = transport or transport_for(self.config)
        self.transport.attach(self, self.registry)
        self._handlers: dict[str, HandlerRegistry] = {}
        self._monitor = PeriodicThread(
            self.config["heartbeat_interval"],
            self.check_heartbeats,
            name="otel-agents-heartbeats",
            logger=_logger,
        )
        self._stopped = False
        self.telemetry.observe(queue_depth=self.transport.depths)

    # -- registry (the seed's API) -------------------------------------------------------------
    def register_agent(
        self,
        agent_id: str,
        name: str,
        capabilities: Iterable[str],
        endpoint: str,
        metadata: dict[str, Any] | None = None,
    ) -> AgentInfo:
        """Register an agent (again, with the same endpoint, to update it). Returns its info.

        Raises:
            InvalidMessageError: an empty id, capabilities that are not a list of strings ...
            DuplicateAgentError: the id is registered with a different endpoint.
        """
        info = self.registry.register(agent_id, name, capabilities, endpoint, metadata)
        self.transport.registered(info)
        # Heartbeats mean nothing unless someone checks them: from the first registration
        # on, a daemon thread does (config ``heartbeat_monitor``), so a silent agent goes
        # offline without the user having to know about start().
        if self.config["heartbeat_monitor"] and not self._stopped:
            self._monitor.start()
        return info

    def unregister_agent(self, agent_id: str, *, client_address: str | None = None) -> AgentInfo:
        """Remove an agent; messages still queued for it are recorded as failed.

        ``client_address``: where an HTTP request to unregister came from (the audit record).
        """
        info = self.registry.unregister(agent_id, client_address=client_address)
        self._handlers.pop(agent_id, None)
        self.transport.unregistered(agent_id)
        for message in self.transport.discard(agent_id):
            self._fail(message, "recipient_unregistered", "the recipient was unregistered")
        return info

    def get_agent(self, agent_id: str) -> AgentInfo:
        return self.registry.get(agent_id)

    def list_agents(self, status: AgentStatus | None = None) -> list[AgentInfo]:
        return [a for a in self.registry.agents() if status is None or a.status is status]

    def find_agents_by_capability(
        self,
        capability: str | Iterable[str],
        requirements: Mapping[str, Any] | None = None,
        *,
        status: AgentStatus | str | None = None,
    ) -> list[AgentInfo]:
        """Agents offering ``capability`` (one, or a list: all of them), by id.

        Args:
            capability: a capability, or a list of capabilities an agent must all offer.
            requirements: metadata an agent must have: ``{"region": "eu"}`` (equal) or
                ``{"tier": ["gold", "silver"]}`` (one of).
            status: only agents with this status (``"online"``, say).

        Returns:
            The matching agents; empty when each capability is offered but no agent meets
            everything asked.

        Raises:
            UnknownCapabilityError: a capability no registered agent offers.
            InvalidMessageError: an empty capability or a requirements that is not a mapping.
        """
        return self.registry.find_by_capability(capability, requirements, status)

    def heartbeat(self, agent_id: str, status: AgentStatus | str | None = None) -> AgentInfo:
        info = self.registry.heartbeat(agent_id, status)
        self.transport.heartbeat(info)
        return info

    def update_agent_status(self, agent_id: str, status: AgentStatus | str) -> None:
        self.registry.set_status(agent_id, status)
        self.transport.heartbeat(self.registry.get(agent_id))

    def check_heartbeats(self) -> list[str]:
        """Mark agents that missed ``heartbeat_miss_limit`` heartbeats offline; their ids."""
        return self.registry.check_heartbeats()

    def add_status_listener(self, listener: StatusListener) -> None:
        self.registry.add_status_listener(listener)

    def register_handler(
        self, agent_id: str, handler: Handler, message_type: MessageType | str | None = None
    ) -> None:
        """Run ``handler(message)`` for ``agent_id``'s messages of ``message_type`` (all if
        ``None``) when they are processed."""
        self.registry.get(agent_id)
        self._handlers.setdefault(agent_id, HandlerRegistry()).add(handler, message_type)

    # -- sending ------------------------------------------------------------------------------
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
        conversation = _conversation(conversation_id) or current_conversation_id()
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
            message, sender_name=sender.name, recipient_name=recipient.name, body_size=len(text)
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
            message, sender_name=sender.name, recipient_name=recipient.name, body_size=len(text)
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
            template, sender_name=sender.name, body_size=len(text), broadcast_count=len(recipients)
        ) as span:
            # Each copy gets a payload of its own: handlers in this process may change theirs.
            for copy, agent in broadcast_copies(template, recipients, lambda: json.loads(text)):
                ids.append(copy.message_id)
                try:
                    self._deliver(copy, agent)
                except DeliveryError as exc:
                    failures.append(exc)
            if failures:
                tel.mark_failed(span, failures[0])
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

    # -- processing ----------------------------------------------------------------------------
    def _next(self, agent_id: str) -> AgentMessage | None:
        queue = self._queue(agent_id)
        while True:
            message = queue.get_nowait()
            if message is None or not self._expired(message):
                return message

    def _expired(self, message: AgentMessage) -> bool:
        """Whether ``message`` expired (then it is recorded and settled as such)."""
        if not self.consumer.expired(message):
            return False
        self.transport.settle(message, self.messages.get(message.message_id))
        return True

    def _process(self, message: AgentMessage) -> None:
        handlers = self._handlers.get(message.recipient_id)
        extra = self.transport.delivery_attributes(message)
        self.consumer.process(message, handlers, *self._names(message), extra)
        self.transport.settle(message, self.messages.get(message.message_id))

    async def _process_async(self, message: AgentMessage) -> None:
        handlers = self._handlers.get(message.recipient_id)
        extra = self.transport.delivery_attributes(message)
        await self.consumer.process_async(message, handlers, *self._names(message), extra)
        self.transport.settle(message, self.messages.get(message.message_id))

    def _queue(self, agent_id: str) -> MessageSource:
        self.registry.get(agent_id)
        queue = self.transport.queue(agent_id)
        if queue is None:
            raise MessagingError(
                f"this protocol delivers over {type(self.transport).__name__}, which keeps no "
                "queues in this process: process messages where the transport delivers them "
                "(an agent's inbox), or use InProcessTransport"
            )
        return queue

    def _names(self, message: AgentMessage) -> tuple[str | None, str | None]:
        recipient = self.registry.lookup(message.recipient_id)
        sender = self.registry.lookup(message.sender_id)
        return (
            None if recipient is None else recipient.name,
            None if sender is None else sender.name,
        )

    def process_next(self, agent_id: str) -> AgentMessage | None:
        """Take ``agent_id``'s most urgent message, run its handlers inside a CONSUMER span
        and return it (``None`` if the queue is empty). Expired messages are skipped and
        recorded; a handler that raises marks the message failed and does not propagate."""
        message = self._next(agent_id)
        if message is not None:
            self._process(message)
        return message

    async def process_next_async(self, agent_id: str, *, wait: bool = False) -> AgentMessage | None:
        """Like :meth:`process_next`, awaiting coroutine handlers; ``wait`` waits for one."""
        message = self._next(agent_id)
        while message is None and wait:
            message = await self._queue(agent_id).get_async()
            if self._expired(message):
                message = None
        if message is not None:
            await self._process_async(message)
        return message

    def process_pending(self, agent_id: str, max_messages: int | None = None) -> int:
        """Process queued messages of ``agent_id`` in priority order; return how many."""
        count = 0
        while (max_messages is None or count < max_messages) and self.process_next(agent_id):
            count += 1
        return count

    async def serve(
        self, agent_id: str, stop: asyncio.Event | None = None, *, grace: float | None = None
    ) -> None:
        """Process ``agent_id``'s messages as they arrive until ``stop`` is set.

        A message being processed when ``stop`` is set gets ``grace`` seconds more
        (``OTEL_AGENTS_DRAIN_TIMEOUT``, 3 s) to finish; past that its handlers are cancelled
        and it is queued again, never lost.
        """
        stop = stop or asyncio.Event()
        queue = self._queue(agent_id)

        async def take() -> AgentMessage:
            while True:
                # get_async, never a blocking get: a broker's queue must not stall the loop.
                message = await queue.get_async()
                if not self._expired(message):
                    return message

        await serve_until(
            stop,
            take,
            self._process_async,
            lambda message: queue.put(message, message.priority),
            DRAIN_TIMEOUT.read() if grace is None else grace,
        )

    # -- history and lifecycle -------------------------------------------------------------------
    def get_message_status(self, message_id: str) -> MessageRecord:
        """The record of a message: its status and, if it expired or failed, why."""
        record = self.messages.get(message_id)
        if record is None:
            raise invalid_value("message_id", message_id, "the id of a message still in history")
        if record.status in (MessageStatus.QUEUED, MessageStatus.DELIVERED):
            # Its recipient may live in another process: a broker knows how it ended. Shown,
            # never written into this process's history: a remote word must not make this
            # process skip the message as settled if it is the one to consume it.
            found = self.transport.outcome(message_id)
            if found is not None:
                return dataclasses.replace(
                    record,
                    status=MessageStatus(found["status"]),
                    updated_at=found["updated_at"],
                    error=found["error"],
                    error_type=found["error_type"],
                )
        return record

    def get_message_history(
        self,
        time_range: TimeRange = None,
        *,
        agent_id: str | None = None,
        status: MessageStatus | None = None,
    ) -> list[MessageRecord]:
        return self.messages.select(time_range, agent_id=agent_id, status=status)

    def export_messages(
        self,
        filepath: str | os.PathLike[str],
        time_range: TimeRange = None,
        *,
        encrypt: bool = False,
    ) -> Path:
        """Write the message history in ``time_range`` and the agents to ``filepath`` as JSON.

        Payloads are never written (records hold ids, types, outcomes and times only). The
        file is replaced atomically; :class:`~otel_agents.ExportError` on failure.
        ``encrypt=True``: encrypted with ``OTEL_AGENTS_EXPORT_KEY``.
        """
        records = self.get_message_history(time_range)
        payload = {
            "message_count": len(records),
            "messages": [record.to_dict() for record in records],
            "agents": [
                {
                    "agent_id": info.agent_id,
                    "name": info.name,
                    "status": str(info.status),
                    "capabilities": list(info.capabilities),
                }
                for info in self.list_agents()
            ],
        }
        return write_json_atomic(filepath, export_envelope("messages", payload), encrypt=encrypt)

    def get_dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """Messages the transport gave up on (NATS: its dead-letter stream), oldest first;
        in process there are none (a failed message is recorded as failed)."""
        return self.transport.dead_letters(limit)

    def get_queue_size(self, agent_id: str) -> int:
        return len(self._queue(agent_id))

    def start(self) -> None:
        """Check heartbeats every ``heartbeat_interval`` seconds in a daemon thread.

        Registering an agent already does this (config ``heartbeat_monitor``, default on);
        call it yourself only with ``heartbeat_monitor`` off. Safe to call twice.
        """
        self._stopped = False
        self._monitor.start()

    def stop(self) -> None:
        """Stop the heartbeat thread and close the transport. Safe to call twice."""
        self._stopped = True
        self._monitor.stop(timeout=5)
        self.transport.close()


def _conversation(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and 0 < len(value) <= 256):
        return value
    raise invalid_value("conversation_id", value, "a string of 1-256 characters or None")
