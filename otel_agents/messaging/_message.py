"""The message envelope, its enums, and the checks every message argument goes through.

An :class:`AgentMessage` is what travels between agents, in one process or over HTTP. Its
``headers`` mapping carries the W3C trace context (``traceparent``, ``tracestate``,
``baggage``) of the span that sent it, so the recipient's processing continues the trace.
``to_json()`` and ``from_json()`` round-trip it without loss.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from otel_agents._errors import short_repr
from otel_agents._numbers import is_real
from otel_agents.genai._context import CONVERSATION_ID_RULE, is_conversation_id
from otel_agents.messaging._errors import (
    InvalidMessageError,
    InvalidPayloadError,
    bad_value,
)
from otel_agents.messaging._json import loads_strict

__all__ = [
    "AgentMessage",
    "AgentStatus",
    "MessagePriority",
    "MessageType",
    "body_size",
    "coerce_priority",
    "coerce_type",
    "encode_payload",
    "new_message",
    "validate_agent_id",
    "validate_message_id",
]

MAX_AGENT_ID_LENGTH = 128
#: The one agent id grammar, in process and over HTTP: ids travel in URL paths
#: (``/agents/{id}/heartbeat``) and in the ``X-Agent-Id`` header, so they must survive both
#: unchanged: ASCII only, no ``/ ? # %`` or spaces, no ``..`` path segments.
AGENT_ID_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,127}")
AGENT_ID_GRAMMAR = (
    "an agent id: 1-128 ASCII letters, digits and _ . : @ -, starting with a letter, digit "
    "or _, without '..'"
)

#: The message id grammar, wherever a message is built (the constructor checks it): ids
#: travel in URL paths (``/messages/{id}``), in headers (``Nats-Msg-Id``) and in the hub's
#: and agents' log lines, so a line break, an escape sequence or a ``/`` in one would forge
#: a log line or another path. :meth:`AgentMessage.new_id` makes 32 hex digits.
MESSAGE_ID_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}")
MESSAGE_ID_GRAMMAR = (
    "a message id: 1-128 ASCII letters, digits and _ . : -, starting with a letter, digit "
    "or _ (AgentMessage.new_id() makes one)"
)


class MessageType(StrEnum):
    """What a message is for. The value is what goes on the wire and into telemetry."""

    TASK_ASSIGNMENT = "task_assignment"
    TASK_RESULT = "task_result"
    STATUS_UPDATE = "status_update"
    REQUEST = "request"
    RESPONSE = "response"
    NOTIFICATION = "notification"
    COORDINATION = "coordination"
    HEARTBEAT = "heartbeat"
    ERROR = "error"


class MessagePriority(IntEnum):
    """Delivery order: ``URGENT`` first, FIFO within one priority."""

    LOW = 1
    NORMAL = 2
    HIGH = 3
    URGENT = 4

    @property
    def label(self) -> str:
        """The lower-case name used on the wire and in telemetry (``"high"``)."""
        return _LABELS[self]


class AgentStatus(StrEnum):
    """An agent's availability as the registry sees it."""

    ONLINE = "online"
    BUSY = "busy"
    OFFLINE = "offline"
    ERROR = "error"


_LABELS = {p: p.name.lower() for p in MessagePriority}
_PRIORITY_NAMES = {label: p for p, label in _LABELS.items()}
_TYPE_VALUES = {t.value: t for t in MessageType}


def validate_agent_id(value: Any, parameter: str = "agent_id") -> str:
    """Return ``value`` if it is a usable agent id (see :data:`AGENT_ID_GRAMMAR`)."""
    if not isinstance(value, str) or not AGENT_ID_PATTERN.fullmatch(value) or ".." in value:
        shown = value[:140] if isinstance(value, str) else value
        raise bad_value(InvalidMessageError, parameter, shown, AGENT_ID_GRAMMAR)
    return value


def validate_message_id(value: Any, parameter: str = "message_id") -> str:
    """Return ``value`` if it is a usable message id (see :data:`MESSAGE_ID_GRAMMAR`)."""
    if not isinstance(value, str) or not MESSAGE_ID_PATTERN.fullmatch(value):
        raise bad_value(InvalidMessageError, parameter, value, MESSAGE_ID_GRAMMAR)
    return value


def coerce_priority(value: Any, parameter: str = "priority") -> MessagePriority:
    """Accept a :class:`MessagePriority` or its name (``"high"``); anything else is an error."""
    if isinstance(value, MessagePriority):
        return value
    if isinstance(value, str) and value.lower() in _PRIORITY_NAMES:
        return _PRIORITY_NAMES[value.lower()]
    raise bad_value(
        InvalidMessageError, parameter, value, "a MessagePriority", list(_PRIORITY_NAMES)
    )


def coerce_type(value: Any, parameter: str = "message_type") -> MessageType:
    """Accept a :class:`MessageType` or its value (``"task_assignment"``)."""
    if isinstance(value, MessageType):
        return value
    if isinstance(value, str) and value in _TYPE_VALUES:
        return _TYPE_VALUES[value]
    raise bad_value(InvalidMessageError, parameter, value, "a MessageType", list(_TYPE_VALUES))


def encode_payload(payload: Any) -> tuple[Any, str]:
    """Return ``(canonical payload, JSON text)``; the canonical form is what JSON gives back.

    The recipient gets its own copy, so a sender that mutates its dict after sending changes
    nothing, and tuples arrive as lists exactly as they would over HTTP.
    """
    try:
        # Unescaped: the text is the payload as the envelope carries it (UTF-8 JSON, see
        # :meth:`AgentMessage.to_wire`), so :func:`body_size` counts what travels.
        text = json.dumps(payload, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidPayloadError(
            f"payload={short_repr(payload)} is not valid: expected JSON-serializable data "
            f"(dicts with string keys, lists, strings, finite numbers, booleans, None): {exc}"
        ) from exc
    return json.loads(text), text


def body_size(text: str) -> int:
    """The bytes a payload's JSON ``text`` (from :func:`encode_payload`) takes in the
    envelope (``messaging.message.body.size``): its UTF-8 form, or the escaped form the
    envelope falls back to when a lone surrogate has no UTF-8 form."""
    if text.isascii():
        return len(text)
    try:
        return len(text.encode())
    except UnicodeEncodeError:
        return len(json.dumps(json.loads(text), separators=(",", ":")))


class _IdPool:
    """Random bytes from ``os.urandom`` fetched in bulk, handed out 16 at a time."""

    _SIZE = 16 * 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = b""
        self._at = 0

    def reset(self) -> None:
        """Forget the pool (in a forked child: never its parent's next ids)."""
        self._lock = threading.Lock()
        self._pool, self._at = b"", 0

    def take(self) -> str:
        with self._lock:
            at = self._at
            if at >= len(self._pool):
                self._pool, at = os.urandom(self._SIZE), 0
            self._at = at + 16
            return self._pool[at : at + 16].hex()


_ID_POOL = _IdPool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ID_POOL.reset)


@dataclass
class AgentMessage:
    """One message envelope.

    Attributes:
        message_id: unique id (32 random hex digits from :meth:`new_id`; one of your own
            must match :data:`MESSAGE_ID_GRAMMAR`: 1-128 ASCII letters, digits and
            ``_ . : -``, starting with a letter, digit or ``_``).
        message_type: what the message is for.
        priority: delivery order.
        sender_id: the sending agent.
        recipient_id: the receiving agent.
        payload: JSON data; never recorded in telemetry.
        created_at: Unix time the sender created the message.
        expires_at: Unix time after which it is not delivered (``created_at`` plus
            ``message_timeout``), or ``None`` for never.
        headers: string headers; ``traceparent``, ``tracestate`` and ``baggage`` live here.
        conversation_id: optional id grouping requests and replies (1-256 characters).
        broadcast: ``True`` for one copy of a broadcast.
    """

    message_id: str
    message_type: MessageType
    priority: MessagePriority
    sender_id: str
    recipient_id: str
    payload: Any
    created_at: float
    expires_at: float | None = None
    headers: dict[str, str] = field(default_factory=dict)
    conversation_id: str | None = None
    broadcast: bool = False

    def __post_init__(self) -> None:
        # Also for an id a user passes (AgentMessage(message_id=...)): see the grammar.
        if type(self.message_id) is not str or not MESSAGE_ID_PATTERN.fullmatch(self.message_id):
            validate_message_id(self.message_id)

    @staticmethod
    def new_id() -> str:
        """128 random bits from the OS as 32 hex digits (what ``uuid4().hex`` gives, minus
        the version bits). Drawn from a pool refilled 256 ids at a time: ``os.urandom``
        releases the GIL, and one release per message hands the GIL to the transport's
        loop thread and waits for it back (measured: the sender's largest cost)."""
        return _ID_POOL.take()

    def is_expired(self, now: float) -> bool:
        """Whether the message is past its expiry at Unix time ``now``."""
        return self.expires_at is not None and now > self.expires_at

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` turns it back into an equal message."""
        return {
            "message_id": self.message_id,
            "message_type": self.message_type.value,
            "priority": self.priority.label,
            "sender_id": self.sender_id,
            "recipient_id": self.recipient_id,
            "payload": self.payload,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "headers": dict(self.headers),
            "conversation_id": self.conversation_id,
            "broadcast": self.broadcast,
        }

    def to_json(self) -> str:
        """The envelope as compact JSON text, non-ASCII characters as they are: sent as
        UTF-8 (:meth:`to_wire`), not as ``\\u00e9``-style escapes, which made a non-ASCII
        payload up to 6 times (emoji: 12 times) larger than the sender's UTF-8 JSON, so a
        hub forwarded what the recipient's ``max_message_size`` then refused."""
        return json.dumps(
            self.to_dict(), allow_nan=False, separators=(",", ":"), ensure_ascii=False
        )

    def to_wire(self) -> bytes:
        """The envelope's bytes as they are sent, signed and counted: UTF-8 JSON.

        A string holding a lone surrogate (JSON's ``"\\ud800"`` escape allows one) has no
        UTF-8 form: such an envelope goes with ``\\ud800``-style escapes, as JSON permits.
        """
        try:
            return self.to_json().encode()
        except UnicodeEncodeError:
            return json.dumps(self.to_dict(), allow_nan=False, separators=(",", ":")).encode()

    @classmethod
    def from_dict(cls, data: Any) -> AgentMessage:
        """Build a message from :meth:`to_dict` output, checking every field."""
        if not isinstance(data, dict):
            raise bad_value(InvalidMessageError, "message", data, "a JSON object")
        try:
            message_id = validate_message_id(data["message_id"])
            headers = data.get("headers") or {}
            if not isinstance(headers, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
            ):
                raise bad_value(InvalidMessageError, "headers", headers, "a str-to-str object")
            conversation_id = data.get("conversation_id")
            if conversation_id is not None and not is_conversation_id(conversation_id):
                # The sending side's bound: the id becomes a rollup key and a gauge label.
                raise bad_value(
                    InvalidMessageError, "conversation_id", conversation_id, CONVERSATION_ID_RULE
                )
            return cls(
                message_id=message_id,
                message_type=coerce_type(data["message_type"]),
                priority=coerce_priority(data["priority"]),
                sender_id=validate_agent_id(data["sender_id"], "sender_id"),
                recipient_id=validate_agent_id(data["recipient_id"], "recipient_id"),
                payload=data.get("payload"),
                created_at=_time(data["created_at"], "created_at"),
                expires_at=None
                if data.get("expires_at") is None
                else _time(data["expires_at"], "expires_at"),
                headers=headers,
                conversation_id=conversation_id,
                broadcast=data.get("broadcast") is True,
            )
        except KeyError as exc:
            raise InvalidMessageError(
                f"message is missing the field {exc.args[0]!r}: expected an AgentMessage dict"
            ) from None

    @classmethod
    def from_json(cls, text: str | bytes) -> AgentMessage:
        return cls.from_dict(loads_strict(text, "message"))


def new_message(
    sender_id: str,
    recipient_id: str,
    message_type: Any,
    payload: Any,
    priority: Any,
    *,
    now: float,
    timeout: float,
) -> tuple[AgentMessage, str]:
    """A checked new envelope created at ``now`` expiring ``timeout`` s later, and its
    payload's JSON text. Raises for a bad type, priority or payload."""
    kind, prio = coerce_type(message_type), coerce_priority(priority)
    data, text = encode_payload(payload)
    message = AgentMessage(
        AgentMessage.new_id(), kind, prio, sender_id, recipient_id, data, now, now + timeout
    )
    return message, text


def _time(value: Any, parameter: str) -> float:
    if not is_real(value):
        raise bad_value(InvalidMessageError, parameter, value, "a Unix timestamp")
    return float(value)
