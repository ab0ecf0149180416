"""The exceptions otel-agents raises.

Every error derives from :class:`OtelAgentsError`, so ``except OtelAgentsError`` catches
anything this package raises on purpose. Errors about a bad argument also derive from the
built-in ``ValueError`` or ``TypeError``, so code written against plain Python keeps working.

Messages name the parameter, the bad value and what to do instead. The value is shown by
:func:`short_repr`: its ``repr``, cut at 80 characters, at a cost bounded by that length
however large or deep the value (a bad argument or config entry may be megabytes).

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
        ├── InvalidRequestHeadError (ValueError)  a head it will not write upstream (a 400)
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
    "printable",
    "short_repr",
]

#: The longest value shown in a message, "..." included.
SHORT_REPR_LIMIT = 80


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
    message = f"{parameter}={short_repr(value)} is not valid: expected {expected}"
    if choices is not None:
        message += f"; valid choices: {', '.join(sorted(choices))}"
    return message


def printable(text: str, limit: int | None = None, *, keep: str = "") -> str:
    """``text`` fit for one line of a log or a terminal: every character that is not
    printable (line breaks, ESC and the rest of C0/C1, bidi overrides) escaped as Python
    writes it (``\\n``, ``\\x1b``), the characters in ``keep`` excepted; cut to ``limit``
    characters plus ``...`` when longer.

    The one escaping helper of the package, for any string that came from the network (a
    peer's error text, a URL segment, a named user): written raw, a ``\\n`` in one forges a
    second line in a line-based log, and an ESC drives the reader's terminal (its title,
    its clipboard). Only ``limit + 1`` characters are looked at, so a megabyte costs no
    more than a short string.
    """
    if limit is not None and len(text) > limit:
        text = text[: limit + 1]
    if not text.isprintable():
        text = "".join(c if c.isprintable() or c in keep else ascii(c)[1:-1] for c in text)
    return text if limit is None or len(text) <= limit else text[:limit] + "..."


def short_repr(value: Any, limit: int = SHORT_REPR_LIMIT) -> str:
    """``repr(value)``, cut to ``limit`` characters ending in ``...`` when longer.

    For messages about a bad value, which may be a megabyte string, a huge or deeply nested
    (even self-containing) list or dict, or an object whose ``__repr__`` fails: the builtin
    containers, ``str`` and ``bytes`` are written only as far as the limit, so the cost
    does not grow with the value (but for one scan of a long string for its quotes), and
    the text is the start of ``repr(value)`` all the same. Other objects' own ``repr`` is
    used; one that raises is shown as ``<TypeName object>``.
    """
    out: list[str] = []
    try:
        _write(value, out, limit + 1, set())
        shown = "".join(out)
    except Exception:  # a __repr__ that raises, a dict resized by another thread
        if isinstance(value, int):  # past Python's digit limit (10**5000)
            shown = f"<an int of {value.bit_length()} bits>"
        else:
            shown = f"<{type(value).__name__} object>"
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


_BRACKETS: dict[type, tuple[str, str, str]] = {  # opening, closing, empty
    list: ("[", "]", "[]"),
    tuple: ("(", ")", "()"),
    dict: ("{", "}", "{}"),
    set: ("{", "}", "set()"),
    frozenset: ("frozenset({", "})", "frozenset()"),
}


def _write(value: Any, out: list[str], budget: int, active: set[int]) -> int:
    """Append the repr of ``value`` to ``out`` until ``budget`` characters are written (or
    it ends); return the budget left, at most 0 when the text was cut short."""
    kind = type(value)
    brackets = _BRACKETS.get(kind)
    if brackets is None:
        text = _scalar(value, budget)
    elif not value:
        text = brackets[2]
    elif id(value) in active:  # a list or dict that contains itself, as repr shows it
        text = "[...]" if kind is list else "{...}"
    else:
        return _write_items(value, out, budget, active, brackets)
    out.append(text)
    return budget - len(text)


def _write_items(
    value: Any, out: list[str], budget: int, active: set[int], brackets: tuple[str, str, str]
) -> int:
    opening, closing, _ = brackets
    active.add(id(value))
    out.append(opening)
    budget -= len(opening)
    pairs = type(value) is dict
    for index, item in enumerate(value.items() if pairs else value):
        if budget <= 0:
            break  # cut: no need to close
        if index:
            out.append(", ")
            budget -= 2
        if pairs:
            budget = _write(item[0], out, budget, active)
            out.append(": ")
            budget = _write(item[1], out, budget - 2, active)
        else:
            budget = _write(item, out, budget, active)
    else:
        if type(value) is tuple and len(value) == 1:
            closing = ",)"
        out.append(closing)
        budget -= len(closing)
    active.discard(id(value))
    return budget


def _scalar(value: Any, budget: int) -> str:
    # A long str or bytes: only its start is quoted, with what repr would quote the whole
    # value with. repr picks the quotes from the ' and " the value holds, so the start gets
    # those after it (the cut drops them again).
    if type(value) is str and len(value) > budget:
        return repr(value[:budget] + "".join(q for q in "'\"" if q in value))
    if type(value) is bytes and len(value) > budget:
        return repr(value[:budget] + b"".join(q for q in (b"'", b'"') if q in value))
    return repr(value)
