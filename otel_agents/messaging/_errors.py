"""Errors raised by agent messaging.

Every class derives from :class:`otel_agents._errors.MessagingError`. Errors caused by a bad
argument also derive from ``ValueError`` or ``TypeError``. Nothing is recorded or changed
when one of the bad-input errors is raised.

The tree::

    MessagingError
    ├── UnknownAgentError (ValueError)        sender or recipient is not registered
    ├── UnknownMessageError (ValueError)      no message with that id is in the history
    ├── DuplicateAgentError (ValueError)      agent id already registered with another endpoint
    ├── DuplicateMessageError (ValueError)    message id the hub holds for another message
    ├── UnknownCapabilityError (ValueError)   no registered agent has the capability
    ├── UnknownMessageError (ValueError)      no message with that id is (still) in history
    ├── RegistryFullError                     ``max_agents`` agents are registered already
    ├── InvalidMessageError (ValueError)      empty agent id, bad priority or message type ...
    │   └── MessageTooLargeError              an envelope or request over max_message_size
    ├── InvalidPayloadError (TypeError)       payload is not JSON-serializable
    ├── DeliveryError                         the message could not be delivered
    │   ├── QueueFullError                    the recipient's queue is full
    │   └── MessageExpiredError               the message outlived ``message_timeout``
    └── SecurityError                         an HTTP request or envelope was refused
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from otel_agents._errors import MessagingError, invalid_value

__all__ = [
    "DeliveryError",
    "DuplicateAgentError",
    "DuplicateMessageError",
    "InvalidMessageError",
    "InvalidPayloadError",
    "MessageExpiredError",
    "MessageTooLargeError",
    "QueueFullError",
    "RegistryFullError",
    "SecurityError",
    "UnknownAgentError",
    "UnknownCapabilityError",
    "UnknownMessageError",
]


class UnknownAgentError(MessagingError, ValueError):
    """A sender or recipient id is not registered."""


class UnknownMessageError(MessagingError, ValueError):
    """No message with the given id is in the message history (never sent, or evicted)."""


class DuplicateAgentError(MessagingError, ValueError):
    """An agent id is already registered with a different endpoint."""


class DuplicateMessageError(MessagingError, ValueError):
    """A message id the hub still holds (history, pending delivery or dead letter) arrived
    with another message: only its sender may send it again, and only unchanged."""


class RegistryFullError(MessagingError):
    """``max_agents`` agents are registered already: a new id is refused until one goes."""


class UnknownCapabilityError(MessagingError, ValueError):
    """No registered agent offers the requested capability."""


class InvalidMessageError(MessagingError, ValueError):
    """An argument of a messaging call has an unusable value."""


class MessageTooLargeError(InvalidMessageError):
    """An envelope (or the HTTP request carrying it) is larger than ``max_message_size``."""


class InvalidPayloadError(MessagingError, TypeError):
    """A payload cannot be represented as JSON."""


class DeliveryError(MessagingError):
    """A message could not be delivered. ``reason`` is a short, stable error type."""

    def __init__(self, message: str, *, reason: str = "delivery_failed") -> None:
        super().__init__(message)
        self.reason = reason


class QueueFullError(DeliveryError):
    """The recipient's inbox queue holds ``max_queue_size`` messages already."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="queue_full")


class MessageExpiredError(DeliveryError):
    """The message outlived ``message_timeout`` before it could be delivered."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="expired")


class SecurityError(MessagingError):
    """A request or envelope failed authentication, signature or replay checks.

    ``reason`` is one of ``unauthorized``, ``unsigned``, ``bad_signature``, ``stale``,
    ``replayed``; it becomes the ``error.type`` of the rejection counter.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def bad_value(
    error: type[MessagingError],
    parameter: str,
    value: Any,
    expected: str,
    choices: Iterable[str] | None = None,
) -> MessagingError:
    """Build ``error`` with the house message naming the parameter, the value and the fix."""
    return error(str(invalid_value(parameter, value, expected, choices)))
