"""How ``AgentCommunicationProtocol`` processes: take a queued message, run its handlers, serve.

Separate from the protocol's facade (:mod:`._protocol`) and its send path
(:mod:`._protocol_send`) because this is the receiving side in this process: messages are
taken from the transport's queue in priority order, expired ones are recorded and skipped,
handlers run inside the CONSUMER span (:mod:`._consumer`) and the outcome is settled with the
transport; ``serve`` does that as messages arrive, with a bounded drain on stop.

An agent whose messages this process processes is alive: ``process_next``,
``process_pending`` and ``serve`` count as its heartbeat (an agent busy with its work would
otherwise go offline after ``heartbeat_interval`` x ``heartbeat_miss_limit`` seconds without
an explicit ``heartbeat()``, and broadcasts would skip it). The registry is updated at most
once per :data:`BEAT_FRACTION` of ``heartbeat_interval``, not per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from otel_agents._errors import MessagingError
from otel_agents._logs import redacting_logger
from otel_agents._runtime import FailureLog, failsafe_call
from otel_agents._settings import DRAIN_TIMEOUT
from otel_agents.messaging._consumer import serve_until
from otel_agents.messaging._handlers import HandlerRegistry
from otel_agents.messaging._message import AgentMessage, AgentStatus
from otel_agents.messaging._registry import AgentRegistry
from otel_agents.messaging._runtime import AgentRuntime
from otel_agents.messaging._transport import MessageSource, Transport

__all__ = ["BEAT_FRACTION", "ProtocolProcessing"]

#: Processing refreshes an agent's heartbeat once this fraction of ``heartbeat_interval``
#: has passed since the last one: a few registry updates per interval, whatever the rate.
BEAT_FRACTION = 0.25

_failures = FailureLog(
    redacting_logger("otel_agents.messaging"),
    "an agent's heartbeat from processing its messages failed (%s); processing goes on",
    level=logging.WARNING,
)


class ProtocolProcessing(AgentRuntime):
    """The processing half of :class:`~otel_agents.messaging.AgentCommunicationProtocol`.

    The protocol sets ``registry``, ``transport`` and ``_handlers`` in its ``__init__``.
    """

    registry: AgentRegistry
    transport: Transport
    _handlers: dict[str, HandlerRegistry]

    def _alive(self, agent_id: str) -> None:
        """``agent_id``'s messages are being processed here: that is its heartbeat, sent
        when :data:`BEAT_FRACTION` of the interval has passed since the last (or when it
        was marked offline for missed heartbeats). It refreshes ``last_heartbeat`` only: an
        agent set offline on purpose stays offline (:meth:`AgentRegistry.alive`). A
        lock-free read on every call; the registry's lock and the transport only once per
        fraction. Never raises: the processing matters more."""
        info = self.registry.lookup(agent_id)
        if info is None:
            return
        every = self.config["heartbeat_interval"] * BEAT_FRACTION
        if (
            info.status is AgentStatus.OFFLINE and info.missed
        ) or self.clock.monotonic() - info.last_heartbeat >= every:
            failsafe_call(self._beat, agent_id, failures=_failures, detail=agent_id)

    def _beat(self, agent_id: str) -> None:
        self.transport.heartbeat(self.registry.alive(agent_id))

    async def _keep_alive(self, agent_id: str) -> None:
        """While ``serve`` waits for messages its agent is alive too: beat on the loop."""
        every = self.config["heartbeat_interval"] * BEAT_FRACTION
        while True:
            self._alive(agent_id)
            await asyncio.sleep(every)

    def _next(self, agent_id: str) -> AgentMessage | None:
        queue = self._queue(agent_id)
        self._alive(agent_id)
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
            self._alive(agent_id)
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
        and it is queued again, never lost. While it serves, the agent is alive: its
        heartbeat is refreshed on this loop, idle or busy (a handler that blocks the loop
        stops that, as it should).
        """
        stop = stop or asyncio.Event()
        queue = self._queue(agent_id)

        async def take() -> AgentMessage:
            while True:
                # get_async, never a blocking get: a broker's queue must not stall the loop.
                message = await queue.get_async()
                if not self._expired(message):
                    return message

        beating = asyncio.ensure_future(self._keep_alive(agent_id))
        try:
            await serve_until(
                stop,
                take,
                self._process_async,
                lambda message: queue.put(message, message.priority),
                DRAIN_TIMEOUT.read() if grace is None else grace,
            )
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
