"""The receiving side of the NATS transport: check, hand over, acknowledge, dead-letter.

Every delivery is hostile input until checked: its size, its JSON, its signature and replay
window (:class:`~otel_agents.messaging._security.SecurityConfig`), its recipient. A delivery
that fails a check is counted in ``agent.message.rejected`` (by reason) and terminated, so
the broker never redelivers it. A message this process already settled (a redelivery whose
acknowledgement was lost) is acknowledged again without running its handlers.

After the handlers ran, :meth:`Receiver.settle` acknowledges a processed message, terminates
an expired one, and gives a failed one back with backoff (``retry_backoff`` doubling, 60 s at
most) until its ``max_delivery_attempts``-th attempt failed; then it is published to the
dead-letter stream and acknowledged. A message delivered once more than that (its recipient
died each time before settling it) is dead-lettered on receipt, without running handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from otel_agents import semconv as sc
from otel_agents._errors import MessagingError
from otel_agents._logs import redacting_logger
from otel_agents._runtime import FailureLog
from otel_agents.messaging._errors import SecurityError
from otel_agents.messaging._message import AgentMessage, MessagePriority
from otel_agents.messaging._nats_io import message_key
from otel_agents.messaging._nats_view import (
    H_ATTEMPTS,
    H_DEAD_AT,
    H_ERROR,
    H_REASON,
    MAX_ERROR,
)
from otel_agents.messaging._records import MessageRecord, MessageStatus

if TYPE_CHECKING:
    from nats.aio.msg import Msg

    from otel_agents.messaging._nats import NatsTransport
    from otel_agents.messaging._runtime import AgentRuntime

__all__ = ["Receiver"]

_logger = redacting_logger("otel_agents.messaging")
#: A message that could not be dead-lettered is given back to the broker: logged once per
#: distinct error (each failure is counted in ``Receiver.bury_failures``).
_BURY_FAILURES = FailureLog(
    _logger,
    "a message could not be dead-lettered and was given back to the broker (%s)",
    level=logging.WARNING,
)

MAX_BACKOFF = 60.0
_SETTLED = (MessageStatus.PROCESSED, MessageStatus.EXPIRED, MessageStatus.DEAD_LETTERED)
_TRACE_HEADERS = ("traceparent", "tracestate", "baggage")
#: Seconds one wait of ``get_async`` lasts before it is renewed (stays cancellable).
_WAIT = 5.0


class _Source:
    """What the protocol takes one agent's messages from (see ``Transport.queue``).

    ``get_async`` takes what the broker handed over in one go (up to a batch, already
    checked) and keeps the rest here, so the event-loop hop is paid once per batch.
    """

    def __init__(self, receiver: Receiver, agent_id: str) -> None:
        self.receiver, self.agent_id = receiver, agent_id
        self._ready = receiver.ready(agent_id)

    def get_nowait(self) -> AgentMessage | None:
        with contextlib.suppress(IndexError):
            return self._ready.popleft()
        transport = self.receiver.transport
        take = self.receiver.take(self.agent_id, None)
        return transport.io.run(take, transport.broker_timeout, "taking a message")

    async def get_async(self) -> AgentMessage:
        while True:
            with contextlib.suppress(IndexError):
                return self._ready.popleft()
            # The broker's loop fills the ready queue itself: a wait cancelled here (a
            # stop) loses nothing, what it took is handed out next time or given back.
            await self.receiver.transport.io.run_async(self.receiver.fill(self.agent_id, _WAIT))

    def put(self, item: AgentMessage, priority: MessagePriority) -> None:
        self.receiver.requeue(item)

    def __len__(self) -> int:
        view = self.receiver.transport.view
        return sum(count for _, _, count in view.depths(self.agent_id, fresh=True))


class Receiver:
    """Deliveries in flight in this process and what becomes of them."""

    def __init__(self, transport: NatsTransport, runtime: AgentRuntime) -> None:
        self.transport = transport
        self.runtime = runtime
        config = runtime.config
        self.max_size: int = config["max_message_size"]
        self.max_attempts: int = config["max_delivery_attempts"]
        self.backoff: float = config["retry_backoff"]
        #: How long a message may wait on the broker: its TTL (message_timeout + the 60 s
        #: grace of ``_nats.TTL_GRACE``).
        self.keep_for = float(config["message_timeout"]) + 60.0
        meter = runtime.telemetry.meter
        self.redelivered = sc.create_instrument(meter, sc.AGENT_MESSAGE_REDELIVERED)
        self.dead_lettered = sc.create_instrument(meter, sc.AGENT_MESSAGE_DEAD_LETTERED)
        #: message id -> (delivery, how many times it was delivered); loop thread only.
        self._inflight: dict[str, tuple[Msg, int]] = {}
        self._ready: dict[str, deque[AgentMessage]] = {}
        #: Outcomes to send to the broker, settled in order by one task on its loop.
        self._outcomes: deque[tuple[AgentMessage, MessageRecord | None, bool]] = deque()
        self._flushing = False
        self._flush_task: asyncio.Future[None] | None = None
        #: Dead-letter publishes that failed (their deliveries were given back instead).
        self.bury_failures = 0

    def source(self, agent_id: str) -> _Source:
        return _Source(self, agent_id)

    def ready(self, agent_id: str) -> deque[AgentMessage]:
        """Messages of ``agent_id`` taken from the broker, checked, not yet handed out."""
        return self._ready.setdefault(agent_id, deque())

    # -- receipt ----------------------------------------------------------------------------
    async def take(self, agent_id: str, wait: float | None) -> AgentMessage | None:
        lanes = await self.transport.lanes(agent_id)
        deadline = None if wait is None else time.monotonic() + wait
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            msg = await lanes.take(remaining)
            if msg is None:
                return None
            message = await self._accept(msg, agent_id)
            if message is not None:
                return message

    async def fill(self, agent_id: str, wait: float) -> None:
        """Put the most urgent message (waiting up to ``wait``), and what else was pulled
        with it, in the agent's ready queue."""
        first = await self.take(agent_id, wait)
        if first is None:
            return
        ready = self.ready(agent_id)
        ready.append(first)
        lanes = await self.transport.lanes(agent_id)
        for _ in range(lanes.batch - 1):
            msg = lanes.pop_buffered()
            if msg is None:
                break
            message = await self._accept(msg, agent_id)
            if message is not None:
                ready.append(message)

    def _attributes(self, agent_id: str) -> dict[str, str]:
        return {
            sc.MESSAGING_SYSTEM: sc.MESSAGING_SYSTEM_NATS,
            sc.MESSAGING_DESTINATION_NAME: agent_id,
        }

    async def _reject(self, msg: Msg, reason: str, detail: str) -> None:
        self.runtime.telemetry.record_rejected(reason)
        _logger.warning("rejected a NATS delivery (%s): %s", reason, detail[:300])
        with contextlib.suppress(Exception):
            await msg.term()

    async def _accept(self, msg: Msg, agent_id: str) -> AgentMessage | None:
        delivered = msg.metadata.num_delivered
        if len(msg.data) > self.max_size:
            await self._reject(msg, "too_large", f"{len(msg.data)} bytes")
            return None
        headers = {key.lower(): value for key, value in (msg.headers or {}).items()}
        try:
            message = AgentMessage.from_json(msg.data)
            self.transport.security.verify(
                headers,
                msg.data,
                message.message_id,
                redelivery=delivered > 1,
                stored_at=msg.metadata.timestamp.timestamp(),
                # A copy stored within the window can wait on the broker until its TTL
                # (message_timeout + 60 s): remember the signature as long as that.
                remember_for=self.transport.security.replay_window + self.keep_for,
            )
        except SecurityError as exc:
            await self._reject(msg, exc.reason, str(exc))
            return None
        except MessagingError as exc:
            await self._reject(msg, "invalid_message", str(exc))
            return None
        if message.recipient_id != agent_id:
            await self._reject(msg, "wrong_recipient", f"for {message.recipient_id!r}")
            return None
        runtime = self.runtime
        if delivered > 1:
            self.redelivered.add(1, self._attributes(agent_id))
        held = self._inflight.get(message.message_id)
        if held is not None:
            # Redelivered while waiting here (its ack wait ran out): keep one copy, acked
            # through the newest delivery.
            self._inflight[message.message_id] = (msg, delivered)
            return None
        record = runtime.messages.get(message.message_id)
        if record is not None and record.status in _SETTLED:
            with contextlib.suppress(Exception):
                await msg.ack()  # its first acknowledgement was lost: not processed again
            return None
        if delivered > self.max_attempts:
            detail = (
                f"delivered {delivered - 1} times without an outcome (the recipient died or "
                "exceeded ack_timeout each time)"
            )
            await self._bury_or_keep(msg, message, delivered - 1, "max_deliveries", detail)
            return None
        now = runtime.clock.time()
        if record is None:
            runtime.messages.add(message, now)
        runtime.messages.update(message.message_id, MessageStatus.DELIVERED, now)
        for name in _TRACE_HEADERS:  # an envelope without context continues the NATS one
            if name not in message.headers and name in headers:
                message.headers[name] = headers[name]
        self._inflight[message.message_id] = (msg, delivered)
        return message

    def attributes(self, message: AgentMessage) -> dict[str, Any]:
        """Extra process-span attributes of a message received here."""
        entry = self._inflight.get(message.message_id)
        if entry is None:
            return {}
        return {
            sc.MESSAGING_CONSUMER_GROUP_NAME: self.transport.names.group(message.recipient_id),
            sc.AGENT_MESSAGE_DELIVERY_COUNT: entry[1],
        }

    # -- outcome ----------------------------------------------------------------------------
    def settle(self, message: AgentMessage, record: MessageRecord | None) -> None:
        self._queue_outcome(message, record, False)

    def requeue(self, message: AgentMessage) -> None:
        self._queue_outcome(message, None, True)

    def _queue_outcome(
        self, message: AgentMessage, record: MessageRecord | None, requeue: bool
    ) -> None:
        """Hand an outcome to the broker's loop: one wake-up per burst, not per message."""
        self._outcomes.append((message, record, requeue))
        if not self._flushing:
            self._flushing = True
            self.transport.io.loop.call_soon_threadsafe(self._start_flush)

    def _start_flush(self) -> None:
        self._flush_task = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        self._flushing = False  # an outcome queued from now on schedules another flush
        while self._outcomes:
            message, record, requeue = self._outcomes.popleft()
            try:
                if requeue:
                    await self._requeue(message)
                else:
                    await self._settle(message, record)
            except Exception as exc:
                _logger.warning("settling a NATS delivery failed: %s", type(exc).__name__)

    async def _requeue(self, message: AgentMessage) -> None:
        entry = self._inflight.pop(message.message_id, None)
        if entry is not None:
            await entry[0].nak()

    async def give_back(self) -> None:
        """Return every delivery taken and not settled (closing): redelivered at once."""
        await self._flush()
        for msg, _ in self._inflight.values():
            with contextlib.suppress(Exception):
                await msg.nak()
        self._inflight.clear()
        for ready in self._ready.values():
            ready.clear()

    async def _settle(self, message: AgentMessage, record: MessageRecord | None) -> None:
        entry = self._inflight.pop(message.message_id, None)
        if entry is None:
            return
        msg, delivered = entry
        status = MessageStatus.PROCESSED if record is None else record.status
        if record is not None and status is not MessageStatus.FAILED:
            await self._tell(record)
        if status is MessageStatus.PROCESSED:
            await msg.ack()
        elif status is MessageStatus.EXPIRED:
            await msg.term()
        elif status is MessageStatus.FAILED:
            assert record is not None
            if delivered >= self.max_attempts:
                error = record.error or "the handler failed"
                reason = record.error_type or "failed"
                await self._bury_or_keep(msg, message, delivered, reason, error)
            else:
                await self._tell(record)
                await msg.nak(delay=min(MAX_BACKOFF, self.backoff * 2 ** (delivered - 1)))
        else:
            await msg.nak()

    async def _bury_or_keep(
        self, msg: Msg, message: AgentMessage, attempts: int, reason: str, error: str
    ) -> None:
        """Dead-letter ``message``; when the dead-letter publish fails (the broker is
        restarting, the dead-letter stream was deleted or is full), the delivery is given
        back with a delay instead and the failure is counted and logged, never raised: one
        message must not end the receive loop (``serve()``) of its agent.

        Given back, a message with attempts left comes again and is dead-lettered then; one
        that used up the consumer's deliveries stays on the broker until its TTL."""
        try:
            await self._bury(msg, message, attempts, reason, error)
        except Exception as exc:
            self.bury_failures += 1
            _BURY_FAILURES.record_error(
                exc, f"{type(exc).__name__}; check the stream {self.transport.names.dead_letters}"
            )
            delay = min(MAX_BACKOFF, max(1.0, self.backoff * 2 ** min(attempts, 16)))
            with contextlib.suppress(Exception):
                await msg.nak(delay=delay)

    async def _bury(
        self, msg: Msg, message: AgentMessage, attempts: int, reason: str, error: str
    ) -> None:
        """Park ``message`` in the dead-letter stream, then acknowledge the original."""
        transport = self.transport
        now = self.runtime.clock.time()
        headers = {
            "Nats-Msg-Id": message.message_id,
            H_REASON: _header(reason, 64),
            H_ERROR: _header(error, 300),
            H_ATTEMPTS: str(attempts),
            H_DEAD_AT: f"{now:.6f}",
        }
        assert transport._js is not None
        subject = transport.names.dead_letter_subject(message.recipient_id)
        await transport._js.publish(subject, msg.data, headers=headers)
        await msg.ack()
        log = self.runtime.messages
        if log.get(message.message_id) is None:
            log.add(message, now)
        log.update(message.message_id, MessageStatus.DEAD_LETTERED, now, error, reason)
        record = log.get(message.message_id)
        if record is not None:
            await self._tell(record)
        attributes = {**self._attributes(message.recipient_id), sc.ERROR_TYPE: reason}
        self.dead_lettered.add(1, attributes)
        _logger.warning(
            "message %s to %s is dead-lettered after %d attempts (%s)",
            message.message_id,
            message.recipient_id,
            attempts,
            reason,
        )

    async def _tell(self, record: MessageRecord) -> None:
        """Put the outcome in the status bucket for the sender's process (not awaited by
        the broker: a lost one leaves the sender's record as it was)."""
        transport = self.transport
        if transport._nc is None:
            return
        data = {
            "status": record.status.value,
            "error": _cut(record.error, MAX_ERROR),
            "error_type": _cut(record.error_type, 64),
            "updated_at": record.updated_at,
        }
        subject = f"$KV.{transport.names.status_bucket}.{message_key(record.message_id)}"
        with contextlib.suppress(Exception):
            # UTF-8, not \u escapes: a 500-character error stays within what readers accept.
            await transport._nc.publish(subject, json.dumps(data, ensure_ascii=False).encode())


def _cut(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` UTF-8 bytes (whole characters), so that the status value
    stays within :data:`MAX_ERROR` x 4 bytes whatever the language of an error."""
    if text is None:
        return None
    return text.encode()[:limit].decode(errors="ignore")


def _header(text: str, limit: int) -> str:
    """``text`` fit for a NATS header value: one line, at most ``limit`` characters."""
    return " ".join(text.split())[:limit]
