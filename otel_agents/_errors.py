"""The exceptions otel-agents raises.

Every error derives from :class:`OtelAgentsError`, so ``except OtelAgentsError`` catches
anything this package raises on purpose. Errors about a bad argument also derive from the
built-in ``ValueError`` or ``TypeError``, so code written against plain Python keeps working.

Messages name the parameter, the bad value and what to do instead.

The tree (subclasses live next to the code that raises them)::

    OtelAgentsError
    ├── ConfigurationError (ValueError)        a bad setting for configure() or a component
    ├── InvalidValueError (ValueError)         an argument of the right type, bad value
    │   └── alerts.UnknownAlertError           acknowledging or resolving an unknown alert id
    ├── InvalidTypeError (TypeError)           an argument of the wrong type
    ├── ExportError (OSError)                  an export file could not be written; old one intact
    ├── MissingDependencyError (ImportError)   a feature whose extra is not installed
    ├── genai.ScopeActiveError (RuntimeError)  an invoke_agent/execute_tool/model_call object
    │                                          entered again while still active
    ├── MessagingError                         agent communication (otel_agents.messaging)
    │   ├── UnknownAgentError (ValueError)     sender or recipient not registered
    │   ├── DuplicateAgentError (ValueError)   same id registered with another endpoint
    │   ├── UnknownCapabilityError (ValueError)
    │   ├── UnknownMessageError (ValueError)   a message id not (or no longer) in history
    │   ├── InvalidMessageError (ValueError)   bad id, type, priority or envelope
    │   ├── InvalidPayloadError (TypeError)    a payload that is not JSON-serializable
    │   ├── DeliveryError                      could not deliver; recorded and counted
    │   │   ├── QueueFullError
    │   │   └── MessageExpiredError
    │   └── SecurityError                      unauthorized, unsigned, tampered, stale, replayed
    └── GatewayError                           the API gateway (otel_agents.gateway)
        ├── ServiceNotFoundError (LookupError)
        ├── InvalidServiceError (ValueError)   e.g. an upstream that is not http(s)
        ├── GatewayConfigError                 a bad gateway config file or key; also a
        │                                      ConfigurationError (so a ValueError)
        └── UpstreamError                      UpstreamConnectError, UpstreamTimeoutError,
                                               UpstreamProtocolError, UpstreamBusyError
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "ConfigurationError",
    "ExportError",
    "GatewayError",
    "InvalidTypeError",
    "InvalidValueError",
    "MessagingError",
    "MissingDependencyError",
    "OtelAgentsError",
]


class OtelAgentsError(Exception):
    """Base class of every error raised by otel-agents."""


class ConfigurationError(OtelAgentsError, ValueError):
    """A setting has a value that cannot be used."""


class InvalidValueError(OtelAgentsError, ValueError):
    """An argument has an acceptable type but an unacceptable value."""


class InvalidTypeError(OtelAgentsError, TypeError):
    """An argument has a type that cannot be used."""


class ExportError(OtelAgentsError, OSError):
    """An export file could not be written. The previous file, if any, is left unchanged."""


class MissingDependencyError(OtelAgentsError, ImportError):
    """A feature was used whose optional dependencies (an extra) are not installed.

    The message names the extra to install, e.g. ``pip install 'otel-agents[gateway]'``.
    """


class MessagingError(OtelAgentsError):
    """Base class of agent-communication errors."""


class GatewayError(OtelAgentsError):
    """Base class of API gateway errors."""


def invalid_value(
    parameter: str, value: Any, expected: str, choices: Iterable[str] | None = None
) -> InvalidValueError:
    """Build an :class:`InvalidValueError` whose message names the parameter, value and fix."""
    return InvalidValueError(_message(parameter, value, expected, choices))


def invalid_type(
    parameter: str, value: Any, expected: str, choices: Iterable[str] | None = None
) -> InvalidTypeError:
    """Build an :class:`InvalidTypeError` whose message names the parameter, value and fix."""
    message = _message(parameter, value, expected, choices)
    return InvalidTypeError(f"{message} (got type {type(value).__name__})")


def _message(parameter: str, value: Any, expected: str, choices: Iterable[str] | None) -> str:
    try:
        shown = repr(value)
    except Exception:  # an int past Python's digit limit (10**5000), a raising __repr__
        if isinstance(value, int):
            shown = f"<an int of {value.bit_length()} bits>"
        else:
            shown = f"<a {type(value).__name__} that cannot be shown>"
    if len(shown) > 80:
        shown = shown[:77] + "..."
    message = f"{parameter}={shown} is not valid: expected {expected}"
    if choices is not None:
        message += f"; valid choices: {', '.join(sorted(choices))}"
    return message
