"""What happened to each message: queued, processed, expired or failed, and why.

The log keeps at most ``max_message_history`` records (oldest dropped first), indexed by
message id so a sender can look up why a message was not delivered. An agent's log
(``keep_unsettled``) never drops the record of a message still queued or being processed:
that record is how it knows a redelivered copy is a duplicate and what outcome to report, so
it drops the oldest settled record instead, and refuses new messages while every record it
keeps is unsettled (see :meth:`MessageLog.has_room`).

What a record keeps of the payload is the log's :class:`Payloads` policy. A payload parsed
from JSON takes 4 to 24 times its wire size in Python objects (measured: ~8x for an array of
numbers), so a log of ``max_message_history`` records that kept every payload of up to
``max_message_size`` bytes could hold tens of GB. The in-process protocol keeps payloads (its
users read them from the history); an agent's inbox drops a payload once the message is
settled (nothing reads it after) and bounds the bytes of its unsettled messages
(:meth:`MessageLog.check_bytes`); the hub keeps none, only a digest that tells a sender's
retry from another message under the same id (:func:`payload_digest`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from otel_agents._errors import invalid_value
from otel_agents._history import TimeRange, resolve_time_range
from otel_agents.messaging._errors import QueueFullError
from otel_agents.messaging._message import AgentMessage

__all__ = [
    "SETTLED",
    "DeadLetter",
    "MessageLog",
    "MessageRecord",
    "MessageStatus",
    "Payloads",
    "payload_digest",
    "without_payload",
]


class MessageStatus(StrEnum):
    """Where a message is in its life."""

    QUEUED = "queued"
    #: Accepted by the recipient's inbox; the hub waits for it to report the outcome.
    DELIVERED = "delivered"
    PROCESSED = "processed"
    EXPIRED = "expired"
    FAILED = "failed"
    #: The hub gave up delivering it (see its dead-letter store).
    DEAD_LETTERED = "dead_lettered"


#: The statuses a message does not leave: its outcome is known.
SETTLED = frozenset(
    {
        MessageStatus.PROCESSED,
        MessageStatus.EXPIRED,
        MessageStatus.FAILED,
        MessageStatus.DEAD_LETTERED,
    }
)


class Payloads(StrEnum):
    """What a :class:`MessageLog`'s records keep of each message's payload."""

    #: The message as sent (the in-process protocol: its history is read by its users).
    KEEP = "keep"
    #: Until the message is settled (an agent's inbox: the queue holds the same message).
    UNSETTLED = "unsettled"
    #: Never: a digest of it instead (the hub: it only ever compares payloads).
    DIGEST = "digest"


def payload_digest(payload: Any) -> bytes:
    """The SHA-256 of ``payload``'s canonical JSON (sorted keys, compact): equal for two
    payloads that are the same JSON value, whatever their key order."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).digest()


def without_payload(message: AgentMessage) -> AgentMessage:
    """A copy of ``message`` without its payload and headers (a sender chooses their size,
    up to ``max_message_size``; no record shows them): a few hundred bytes whatever it
    carried. ``message`` itself is unchanged (a handler may still be using it)."""
    return dataclasses.replace(message, payload=None, headers={})


@dataclass(frozen=True)
class DeadLetter:
    """A message given up on (by the hub or the broker): who, what, how many attempts and
    why (no payload)."""

    message_id: str
    sender_id: str
    recipient_id: str
    message_type: str
    attempts: int
    reason: str
    error: str
    dead_at: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class MessageRecord:
    """A message and its outcome. ``error`` says why it expired or failed.

    ``digest`` is :func:`payload_digest` of the payload when the log keeps none
    (:attr:`Payloads.DIGEST`; ``message.payload`` is then ``None``). ``size`` is the wire
    bytes the record counts towards its log's unsettled bytes (0 once settled).
    """

    message: AgentMessage
    status: MessageStatus = MessageStatus.QUEUED
    error: str | None = None
    error_type: str | None = None
    updated_at: float = 0.0
    digest: bytes | None = None
    size: int = 0

    def payload_key(self) -> bytes:
        """The digest of the payload, whether the record keeps the payload or a digest."""
        return self.digest if self.digest is not None else payload_digest(self.message.payload)

    @property
    def message_id(self) -> str:
        return self.message.message_id

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view without the payload."""
        m = self.message
        return {
            "message_id": m.message_id,
            "message_type": m.message_type.value,
            "priority": m.priority.label,
            "sender_id": m.sender_id,
            "recipient_id": m.recipient_id,
            "created_at": m.created_at,
            "status": self.status.value,
            "error": self.error,
            "error_type": self.error_type,
            "updated_at": self.updated_at,
        }


class MessageLog:
    """Bounded history of :class:`MessageRecord`, by id and in arrival order. Thread-safe.

    One insertion-ordered dict serves both lookups by id and time-range queries (records
    arrive in time order), so recording a message costs one dict insert.

    Args:
        max_items: the most records kept (``max_message_history``).
        keep_unsettled: drop only settled records (oldest settled first, tracked in a second
            ordered dict so a drop stays O(1)); a log of unsettled records only may then
            pass ``max_items`` until one settles: its owner refuses new messages while
            :meth:`has_room` is false, so it does not.
        payloads: what records keep of the payload (:class:`Payloads`); an attribute, so
            the hub switches the log of the protocol it serves.
        max_unsettled_bytes: the most wire bytes of unsettled messages (``size`` given to
            :meth:`add`) :meth:`check_bytes` lets in (``max_queued_bytes``); ``None``: no
            limit.
    """

    def __init__(
        self,
        max_items: int,
        *,
        keep_unsettled: bool = False,
        payloads: Payloads = Payloads.KEEP,
        max_unsettled_bytes: int | None = None,
    ) -> None:
        if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1:
            raise invalid_value("max_message_history", max_items, "a positive whole number")
        self._by_id: OrderedDict[str, MessageRecord] = OrderedDict()
        self._settled: OrderedDict[str, None] = OrderedDict()
        self._max = max_items
        self._keep_unsettled = keep_unsettled
        self.payloads = payloads
        self.max_unsettled_bytes = max_unsettled_bytes
        #: Wire bytes of the messages recorded with a ``size`` and not settled yet.
        self.unsettled_bytes = 0
        self._lock = threading.Lock()
        self.dropped = 0

    def add(self, message: AgentMessage, now: float, size: int = 0) -> MessageRecord:
        """Record ``message`` (queued); ``size``: its wire bytes, counted in
        :attr:`unsettled_bytes` until it settles."""
        if self.payloads is Payloads.DIGEST:  # outside the lock: a large payload takes ms
            record = MessageRecord(
                without_payload(message), updated_at=now, digest=payload_digest(message.payload)
            )
        else:
            record = MessageRecord(message, updated_at=now)
        record.size = size
        with self._lock:
            replaced = self._by_id.get(message.message_id)
            if replaced is not None:
                self.unsettled_bytes -= replaced.size
            self._by_id[message.message_id] = record
            self.unsettled_bytes += size
            self._settled.pop(message.message_id, None)
            self._trim()
        return record

    def check_bytes(self, size: int, owner: str) -> None:
        """Raise QueueFullError if one more unsettled message of ``size`` wire bytes would
        take :attr:`unsettled_bytes` past ``max_unsettled_bytes`` (``owner``: the agent)."""
        limit = self.max_unsettled_bytes
        if limit is None:
            return
        with self._lock:
            held = self.unsettled_bytes
        if held + size <= limit:
            return
        if size > limit:
            raise QueueFullError(
                f"the message is {size} bytes as JSON, more than agent {owner!r} may hold "
                f"(max_queued_bytes={limit}): raise max_queued_bytes above max_message_size"
            )
        raise QueueFullError(
            f"agent {owner!r} holds {held} bytes of messages queued or being processed and "
            f"this one is {size} (max_queued_bytes={limit}): retry later, or raise "
            "max_queued_bytes"
        )

    def has_room(self) -> bool:
        """Whether one more unsettled record fits without dropping an unsettled one."""
        if not self._keep_unsettled:
            return True
        with self._lock:
            return len(self._by_id) - len(self._settled) < self._max

    def _trim(self) -> None:
        """Drop the oldest (settled, if ``keep_unsettled``) records past the limit."""
        while len(self._by_id) > self._max:
            if not self._keep_unsettled:
                _, dropped = self._by_id.popitem(last=False)
                self.unsettled_bytes -= dropped.size
            elif self._settled:
                message_id, _ = self._settled.popitem(last=False)
                del self._by_id[message_id]
            else:
                return
            self.dropped += 1

    def get(self, message_id: str) -> MessageRecord | None:
        return self._by_id.get(message_id)

    def update(
        self,
        message_id: str,
        status: MessageStatus,
        now: float,
        error: str | None = None,
        error_type: str | None = None,
    ) -> None:
        with self._lock:
            record = self._by_id.get(message_id)
            if record is None:
                return
            record.status, record.error, record.error_type = status, error, error_type
            record.updated_at = now
            if status in SETTLED:
                self._settle(record)
            if not self._keep_unsettled:
                return
            if status in SETTLED:
                self._settled[message_id] = None
                self._settled.move_to_end(message_id)
            else:
                self._settled.pop(message_id, None)
            self._trim()

    def _settle(self, record: MessageRecord) -> None:
        """``record``'s message is settled: its bytes no longer count, and its payload goes
        if the log keeps payloads only until then. Called with ``_lock`` held."""
        self.unsettled_bytes -= record.size
        record.size = 0
        if self.payloads is Payloads.UNSETTLED and record.message.payload is not None:
            record.message = without_payload(record.message)

    def select(
        self,
        time_range: TimeRange = None,
        *,
        agent_id: str | None = None,
        status: MessageStatus | None = None,
    ) -> list[MessageRecord]:
        """Records created within ``time_range`` involving ``agent_id`` with ``status``."""
        start, end = resolve_time_range(time_range)
        with self._lock:
            records = list(self._by_id.values())
        return [
            record
            for record in records
            if start <= record.message.created_at <= end
            and (
                agent_id is None
                or agent_id in (record.message.sender_id, record.message.recipient_id)
            )
            and (status is None or record.status is status)
        ]

    def __len__(self) -> int:
        return len(self._by_id)
