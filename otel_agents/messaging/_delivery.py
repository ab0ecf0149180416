"""The hub's delivery state: acknowledgements, bounded redelivery and the dead-letter store.

An inbox's ``202`` only says a message was queued there; the agent may die before its
handlers run. So the hub keeps every message it delivered to an agent that registered with
``reports_outcomes`` (every :class:`~otel_agents.messaging._remote.RemoteAgent` does) as
*pending* until the recipient reports the outcome (``POST /acks``, sent after its handlers
ran, see :mod:`otel_agents.messaging._reports`). A message not acknowledged within
``ack_timeout`` seconds is delivered again (the inbox drops a copy it already has and
re-reports its outcome); a failed redelivery waits ``retry_backoff`` seconds, doubling with
each attempt up to 60 s. After ``max_delivery_attempts`` deliveries, or once the message
expired or its recipient was unregistered, it is parked in a bounded dead-letter store
(``GET /dead-letters``), counted in ``agent.message.dead_lettered`` and its record says
``dead_lettered`` and why.

The pending messages are bounded: at most ``max_pending_deliveries`` in all,
``max_pending_per_agent`` for one recipient and ``max_pending_bytes`` of JSON in all. Past
any, the hub refuses a new message for a reporting agent before delivering it
(:meth:`DeliveryTracker.admit`: ``503 queue_full`` naming the limit) rather than
dead-letter older ones: an agent that accepts but never reports stalls only its own senders.
Concurrent requests may pass a limit by the messages they carry (one request cannot).

A pending message is held as its JSON (made once, when it is admitted) plus its envelope
without payload, and redelivered as that JSON, never parsed again: a payload parsed into
Python objects takes 4 to 24 times its wire size, so holding the JSON makes
``max_pending_bytes`` about the memory the pending messages take. The hub's history keeps no
payload either (:attr:`~otel_agents.messaging._records.Payloads.DIGEST`): the duplicate-id
check compares payload digests.

The state lives in the hub's memory: a hub restart forgets pending messages.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from dataclasses import dataclass

from otel_agents import semconv as sc
from otel_agents._logs import redacting_logger
from otel_agents.messaging._errors import DeliveryError, DuplicateMessageError, QueueFullError
from otel_agents.messaging._message import AgentMessage
from otel_agents.messaging._protocol import AgentCommunicationProtocol
from otel_agents.messaging._records import (
    DeadLetter,
    MessageStatus,
    payload_digest,
    without_payload,
)
from otel_agents.messaging._registry import AgentInfo
from otel_agents.messaging._router import Planned

__all__ = ["DeadLetter", "DeliveryTracker"]

_logger = redacting_logger("otel_agents.messaging")

#: The longest wait between two redeliveries, in seconds.
MAX_BACKOFF = 60.0
#: Redeliveries of one tick in flight at once (each may wait for its inbox's answer).
MAX_CONCURRENT_REDELIVERIES = 32
#: Outcomes an inbox may report.
ACK_STATUSES = {"processed": MessageStatus.PROCESSED, "failed": MessageStatus.FAILED,
                "expired": MessageStatus.EXPIRED}  # fmt: skip
_FINAL = frozenset(ACK_STATUSES.values())


@dataclass
class _Pending:
    message: AgentMessage  # without payload or headers: see wire
    digest: bytes  # of the payload (payload_digest), for check_id
    wire: bytes  # the message as JSON: what is redelivered, and its size is what it costs
    attempts: int
    due: float  # on the protocol's monotonic clock
    accepted: bool  # the last attempt was accepted by the inbox
    last_error: str = ""
    last_reason: str = ""


class DeliveryTracker:
    """Pending deliveries of a hub, their redelivery and the dead letters."""

    def __init__(self, protocol: AgentCommunicationProtocol) -> None:
        config = protocol.config
        self.protocol = protocol
        self.ack_timeout: float = config["ack_timeout"]
        self.max_attempts: int = config["max_delivery_attempts"]
        self.backoff: float = config["retry_backoff"]
        self.max_dead_letters: int = config["max_dead_letters"]
        self.max_pending: int = config["max_pending_deliveries"]
        self.max_pending_per_agent: int = config["max_pending_per_agent"]
        self.max_pending_bytes: int = config["max_pending_bytes"]
        self._pending: dict[str, _Pending] = {}
        self._per_recipient: dict[str, int] = {}  # pending messages, by recipient
        self._bytes = 0  # the pending messages' wire bytes (len of each wire)
        self._dead: OrderedDict[str, DeadLetter] = OrderedDict()
        self._lock = threading.Lock()
        self.dropped_dead_letters = 0
        meter = protocol.telemetry.meter
        self._dead_counter = sc.create_instrument(meter, sc.AGENT_MESSAGE_DEAD_LETTERED)
        self._redelivered = sc.create_instrument(meter, sc.AGENT_MESSAGE_REDELIVERED)

    @property
    def tick_interval(self) -> float:
        """How often :meth:`tick` should run: often enough for the shortest wait."""
        return min(1.0, max(0.02, min(self.ack_timeout, self.backoff) / 4))

    def admit(
        self, recipient: AgentInfo, message: AgentMessage, planned: Planned | None = None
    ) -> None:
        """Raise QueueFullError if ``message`` for ``recipient`` (which reports outcomes)
        would take the pending messages past a limit, counting the messages ``planned``
        ahead of it in the same request as already pending; else add its size and JSON
        (kept if it is delivered) to ``planned``."""
        if not recipient.reports_outcomes:
            return
        planned = planned if planned is not None else Planned()
        agent_id = recipient.agent_id
        with self._lock:
            total = len(self._pending) + planned.count
            mine = self._per_recipient.get(agent_id, 0) + planned.by_recipient.get(agent_id, 0)
            held = self._bytes + planned.size
        if mine >= self.max_pending_per_agent:
            raise QueueFullError(
                f"the hub holds {mine} messages delivered to {agent_id!r} whose outcome it has "
                f"not heard (max_pending_per_agent={self.max_pending_per_agent}): the agent is "
                "not keeping up or not reporting; retry later, or raise max_pending_per_agent"
            )
        if total >= self.max_pending:
            raise QueueFullError(
                f"the hub holds {total} delivered messages whose outcome it has not heard "
                f"(max_pending_deliveries={self.max_pending}): retry later, or raise "
                "max_pending_deliveries"
            )
        wire = planned.wires.get(message.message_id) or message.to_wire()
        self._check_bytes(held, len(wire))
        planned.size += len(wire)
        planned.wires[message.message_id] = wire

    def _check_bytes(self, held: int, size: int) -> None:
        """Raise QueueFullError if ``size`` more bytes past ``held`` pass max_pending_bytes."""
        limit = self.max_pending_bytes
        if held + size <= limit:
            return
        if size > limit:
            raise QueueFullError(
                f"the message is {size} bytes as JSON, more than the hub holds for all pending "
                f"messages (max_pending_bytes={limit}): raise max_pending_bytes above "
                "max_message_size"
            )
        raise QueueFullError(
            f"the hub holds {held} bytes (as JSON) of delivered messages whose outcome it has "
            f"not heard and this one is {size} (max_pending_bytes={limit}): retry later, or "
            "raise max_pending_bytes"
        )

    def _track(self, pending: _Pending) -> None:
        """Add ``pending`` (called with ``_lock`` held)."""
        message = pending.message
        self._untrack(message.message_id)  # the same id again: counted once
        self._pending[message.message_id] = pending
        agent_id = message.recipient_id
        self._per_recipient[agent_id] = self._per_recipient.get(agent_id, 0) + 1
        self._bytes += len(pending.wire)

    def _untrack(self, message_id: str) -> _Pending | None:
        """Remove and return the pending ``message_id`` (called with ``_lock`` held)."""
        pending = self._pending.pop(message_id, None)
        if pending is not None:
            self._bytes -= len(pending.wire)
            agent_id = pending.message.recipient_id
            left = self._per_recipient[agent_id] - 1
            if left:
                self._per_recipient[agent_id] = left
            else:
                del self._per_recipient[agent_id]
        return pending

    def delivered(self, message: AgentMessage, wire: bytes | None = None) -> None:
        """An inbox accepted ``message`` (``wire``: its JSON, if :meth:`admit` made it):
        wait for its outcome, if its recipient reports outcomes (an agent that does not
        would get every message ``max_delivery_attempts`` times)."""
        record = self.protocol.messages.get(message.message_id)
        if record is not None and record.status in _FINAL:
            return  # the recipient processed it and said so before its 202 reached us
        self._set(message.message_id, MessageStatus.DELIVERED)
        recipient = self.protocol.registry.lookup(message.recipient_id)
        if recipient is None or not recipient.reports_outcomes:
            return
        digest = record.payload_key() if record is not None else payload_digest(message.payload)
        pending = _Pending(
            without_payload(message),
            digest,
            wire if wire is not None else message.to_wire(),
            1,
            self.protocol.clock.monotonic() + self.ack_timeout,
            True,
        )
        with self._lock:
            self._track(pending)

    def acknowledge(
        self, message_id: str, agent_id: str | None, status: str, error_type: str | None
    ) -> bool:
        """The recipient reports ``status`` for ``message_id``; ``agent_id`` is who reported
        (``None``: proven only by the shared secret). Returns whether it was taken."""
        outcome = ACK_STATUSES.get(status)
        if outcome is None:
            return False
        with self._lock:
            # The pending set first: under load the bounded history may have dropped the
            # record of a message still waiting for this very report.
            recipient = self._recipient(message_id)
            if recipient is None or (agent_id is not None and agent_id != recipient):
                return False  # unknown, or not its recipient: only the recipient reports
            self._untrack(message_id)
            self._dead.pop(message_id, None)  # a late report: the message did get through
        error = None if outcome is MessageStatus.PROCESSED else f"the recipient reported {status}"
        self._set(message_id, outcome, error, error_type if error else None)
        return True

    def _recipient(self, message_id: str) -> str | None:
        """Who may report on ``message_id``: the recipient of the pending message, else of
        its history record, else of its dead letter; ``None`` if the hub knows none.
        Called with ``_lock`` held."""
        pending = self._pending.get(message_id)
        if pending is not None:
            return pending.message.recipient_id
        record = self.protocol.messages.get(message_id)
        if record is not None:
            return record.message.recipient_id
        letter = self._dead.get(message_id)
        return None if letter is None else letter.recipient_id

    def check_id(self, message: AgentMessage) -> None:
        """Refuse ``message`` if the hub holds its id for another message (a history record,
        a pending delivery or a dead letter): a message id names one message, and whoever
        reused it would take over that message's record, reports and dead letter. The same
        message sent again (a retry: same sender, recipient, type and content; trace headers
        may differ) passes, and is routed again as before."""
        message_id = message.message_id
        with self._lock:
            pending = self._pending.get(message_id)
            letter = self._dead.get(message_id)
        record = self.protocol.messages.get(message_id)
        held = [(p.message, p.digest) for p in (pending,) if p is not None]
        if record is not None:
            held.append((record.message, record.payload_key()))
        same: list[bool] = []
        if held:  # the new message's digest only when the id is taken (a large one costs ms)
            mine = _content(message, payload_digest(message.payload))
            same = [mine == _content(other, digest) for other, digest in held]
        if letter is not None:
            ours = (message.sender_id, message.recipient_id, message.message_type.value)
            same.append(ours == (letter.sender_id, letter.recipient_id, letter.message_type))
        if not all(same):
            raise DuplicateMessageError(
                f"message_id={message_id[:64]!r} is already taken by another message the hub "
                "holds: give every new message a new id (AgentMessage.new_id()); a retry must "
                "send the same message unchanged"
            )

    def dead_letters(self, agent_id: str | None = None) -> list[DeadLetter]:
        """The dead letters, or only those ``agent_id`` sent or was sent."""
        with self._lock:
            letters = list(self._dead.values())
        if agent_id is None:
            return letters
        return [x for x in letters if agent_id in (x.sender_id, x.recipient_id)]

    def pending(self, agent_id: str | None = None) -> int:
        """How many deliveries wait for a report (of messages ``agent_id`` sent or was sent)."""
        if agent_id is None:
            return len(self._pending)
        with self._lock:
            held = [p.message for p in self._pending.values()]
        return sum(agent_id in (m.sender_id, m.recipient_id) for m in held)

    def pending_bytes(self, agent_id: str | None = None) -> int:
        """The wire bytes those deliveries hold (what ``max_pending_bytes`` bounds)."""
        if agent_id is None:
            return self._bytes
        with self._lock:
            held = [(p.message, len(p.wire)) for p in self._pending.values()]
        return sum(size for m, size in held if agent_id in (m.sender_id, m.recipient_id))

    async def tick(self) -> None:
        """Redeliver or dead-letter every pending message whose wait is over.

        The redeliveries run concurrently, at most :data:`MAX_CONCURRENT_REDELIVERIES` at a
        time: one after another, a slow inbox (each call may take the transport's whole
        timeout) would hold every other agent's redelivery behind it.
        """
        now = self.protocol.clock.monotonic()
        with self._lock:
            due = [p for p in self._pending.values() if p.due <= now]
        queue = iter(due)  # shared by the workers: each takes the next due message

        async def worker() -> None:
            for pending in queue:
                try:
                    await self._retry(pending)
                except Exception:  # one message must never stop the others' redelivery
                    _logger.warning(
                        "redelivering %s failed", pending.message.message_id, exc_info=True
                    )

        await asyncio.gather(*(worker() for _ in range(min(len(due), MAX_CONCURRENT_REDELIVERIES))))

    def _current(self, pending: _Pending) -> bool:
        """Whether the hub still waits for this very entry: a round takes its due list once,
        then awaits while reports settle entries and resends replace them (as in _bury)."""
        with self._lock:
            return self._pending.get(pending.message.message_id) is pending

    async def _retry(self, pending: _Pending) -> None:
        message = pending.message
        protocol = self.protocol
        if message.is_expired(protocol.clock.time()):
            self._bury(pending, "expired", "the message expired before it was processed")
            return
        if pending.attempts >= self.max_attempts:
            reason, error = pending.last_reason or "delivery_failed", pending.last_error
            if pending.accepted:
                reason = "no_ack"
                error = (
                    f"delivered {pending.attempts} times but the recipient never reported it "
                    f"processed within ack_timeout={self.ack_timeout:g} s"
                )
            self._bury(pending, reason, error)
            return
        recipient = protocol.registry.lookup(message.recipient_id)
        if recipient is None:
            self._bury(pending, "recipient_unregistered", "the recipient is no longer registered")
            return
        if not self._current(pending):  # reported or resent since the round began
            return
        pending.attempts += 1
        self._redelivered.add(1, {sc.MESSAGING_DESTINATION_NAME: message.recipient_id})
        try:
            await protocol.transport.redeliver_async(message, pending.wire, recipient)
        except DeliveryError as exc:
            pending.accepted, pending.last_error, pending.last_reason = False, str(exc), exc.reason
            # The first redelivery is attempt 2: it waits retry_backoff, each further failure
            # twice as long (as documented, and as a broker's redelivery does).
            wait = min(MAX_BACKOFF, self.backoff * 2 ** max(pending.attempts - 2, 0))
        else:
            pending.accepted = True
            wait = self.ack_timeout
        pending.due = protocol.clock.monotonic() + wait

    def _bury(self, pending: _Pending, reason: str, error: str) -> None:
        message = pending.message
        letter = DeadLetter(
            message.message_id,
            message.sender_id,
            message.recipient_id,
            message.message_type.value,
            pending.attempts,
            reason,
            error,
            self.protocol.clock.time(),
        )
        with self._lock:
            if self._pending.get(message.message_id) is not pending:
                return  # reported meanwhile, or resent: a fresh entry is not ours to bury
            self._untrack(message.message_id)
            self._dead[message.message_id] = letter
            while len(self._dead) > self.max_dead_letters:
                self._dead.popitem(last=False)
                self.dropped_dead_letters += 1
        self._set(message.message_id, MessageStatus.DEAD_LETTERED, error, reason)
        self._dead_counter.add(
            1, {sc.MESSAGING_DESTINATION_NAME: message.recipient_id, sc.ERROR_TYPE: reason}
        )
        _logger.warning(
            "message %s to %s is dead-lettered after %d attempts: %s",
            message.message_id,
            message.recipient_id,
            pending.attempts,
            reason,
        )

    def _set(
        self,
        message_id: str,
        status: MessageStatus,
        error: str | None = None,
        error_type: str | None = None,
    ) -> None:
        protocol = self.protocol
        protocol.messages.update(message_id, status, protocol.clock.time(), error, error_type)


def _content(message: AgentMessage, digest: bytes) -> tuple[object, ...]:
    """What makes two envelopes under one id the same message (trace headers aside: a
    retry may travel in a new trace); ``digest`` stands for the payload (a held message
    keeps no payload: see :func:`~otel_agents.messaging._records.payload_digest`)."""
    m = message
    return (m.sender_id, m.recipient_id, m.message_type, m.priority, digest, m.created_at,
            m.expires_at, m.conversation_id, m.broadcast)  # fmt: skip
