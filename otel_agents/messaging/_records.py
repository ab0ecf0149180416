"""What happened to each message: queued, processed, expired or failed, and why.

The log keeps at most ``max_message_history`` records (oldest dropped first), indexed by
message id so a sender can look up why a message was not delivered. An agent's log
(``keep_unsettled``) never drops the record of a message still queued or being processed:
that record is how it knows a redelivered copy is a duplicate and what outcome to report, so
it drops the oldest settled record instead, and refuses new messages while every record it
keeps is unsettled (see :meth:`MessageLog.has_room`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from otel_agents._errors import invalid_value
from otel_agents._history import TimeRange, resolve_time_range
from otel_agents.messaging._message import AgentMessage

__all__ = ["SETTLED", "DeadLetter", "MessageLog", "MessageRecord", "MessageStatus"]


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
    """A message and its outcome. ``error`` says why it expired or failed."""

    message: AgentMessage
    status: MessageStatus = MessageStatus.QUEUED
    error: str | None = None
    error_type: str | None = None
    updated_at: float = 0.0

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
    """

    def __init__(self, max_items: int, *, keep_unsettled: bool = False) -> None:
        if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1:
            raise invalid_value("max_message_history", max_items, "a positive whole number")
        self._by_id: OrderedDict[str, MessageRecord] = OrderedDict()
        self._settled: OrderedDict[str, None] = OrderedDict()
        self._max = max_items
        self._keep_unsettled = keep_unsettled
        self._lock = threading.Lock()
        self.dropped = 0

    def add(self, message: AgentMessage, now: float) -> MessageRecord:
        record = MessageRecord(message, updated_at=now)
        with self._lock:
            self._by_id[message.message_id] = record
            self._settled.pop(message.message_id, None)
            self._trim()
        return record

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
                self._by_id.popitem(last=False)
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
            if not self._keep_unsettled:
                return
            if status in SETTLED:
                self._settled[message_id] = None
                self._settled.move_to_end(message_id)
            else:
                self._settled.pop(message_id, None)
            self._trim()

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
