"""Exceptions on spans without the secrets their messages often carry.

Exception messages quote what went wrong, and that is often a credential: a URL with
``?api_key=...``, ``password=...`` in a connection string, an ``Authorization: Bearer`` header
echoed back by a client library. A span leaves the process, so:

* the status description of a failed span is the exception's type name, never its message
  (:func:`error_status`); ``error.type`` carries the same name;
* the exception event keeps the OpenTelemetry convention (``exception.type``,
  ``exception.message``, ``exception.stacktrace``) because the message is what makes a trace
  useful, but both texts go through :func:`redact_text` first (:func:`record_exception`).

:func:`redact_text` masks the values of ``key=value`` and ``key: value`` pairs whose key the
project-wide secret pattern (:func:`otel_agents._export.is_secret_key`) calls a secret,
``Bearer``/``Basic`` credentials and the ``user:password@`` of URLs. It cannot recognise a bare
secret with nothing around it; code that raises should not put one in a message.
"""

from __future__ import annotations

import re
import traceback

from opentelemetry.trace import Span, Status, StatusCode

from otel_agents._export import HIDDEN, REDACTED, is_secret_key
from otel_agents._url_redaction import REDACTED as URL_MASK, redact_urls
from otel_agents.semconv import (
    EXCEPTION_EVENT,
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    EXCEPTION_TYPE,
)

__all__ = ["error_status", "exception_text", "record_exception", "redact_text"]

_PAIR = re.compile(
    r"""(?<![\w.-])(?P<key>[A-Za-z_][\w.-]*)(?P<sep>["']?\s*[:=]\s*["']?)(?P<value>[^\s"',;&)}\]>]{1,256})"""
)
#: The rest of a masked value: closing brackets too, unless nothing of a value follows them
#: (``(password=x)`` keeps its ``)``, but ``password=Xy7)kP9q`` is masked whole: its tail
#: was kept). Linear: a run of brackets is tried once, where the value ends.
_VALUE_REST = re.compile(r"""(?:[^\s"',;&)}\]>]|[)}\]>]+(?=[^\s"',;&)}\]>]))*""")
_SCHEME_CREDENTIALS = re.compile(r"\b(?P<scheme>Bearer|Basic|Token)\s+[^\s\"',;]+", re.IGNORECASE)


#: Values already masked (by this module, in a URL by :func:`redact_urls`, or written
#: ``<hidden>`` by our configuration errors): kept as is. Checked on the text, not on the
#: matched value, which stops before a closing bracket: ``[REDACTED]`` was masked again
#: into ``[REDACTED]]`` (and a log record's arguments dropped for it).
_MASKS = (REDACTED, URL_MASK, HIDDEN)

#: Longer texts are cut first (the attribute length limit would cut them anyway), so
#: redacting a huge message costs bounded time.
MAX_TEXT = 65536


def redact_text(text: str) -> str:
    """``text`` (its first :data:`MAX_TEXT` characters) with credential-like values masked."""
    text = text[:MAX_TEXT]
    text = _SCHEME_CREDENTIALS.sub(lambda m: f"{m['scheme']} {REDACTED}", text)
    text = redact_urls(text)  # the one redaction of URLs in text, as stored values get
    parts: list[str] = []
    position = 0
    while (match := _PAIR.search(text, position)) is not None:
        if not _masked(text, match.start("value")) and is_secret_key(match["key"]):
            parts.append(text[position : match.start("value")] + REDACTED)
            position = _VALUE_REST.match(text, match.end()).end()  # type: ignore[union-attr]
        else:
            # The value may itself hold a pair ("failed: password=..."): look again from it.
            parts.append(text[position : match.start("value")])
            position = match.start("value")
    parts.append(text[position:])
    return "".join(parts)


def _masked(text: str, start: int) -> bool:
    """Whether the value at ``start`` is a whole mask (followed by nothing more of a value)."""
    for mask in _MASKS:
        end = start + len(mask)
        if text.startswith(mask, start) and _VALUE_REST.match(text, end).end() == end:  # type: ignore[union-attr]
            return True
    return False


def exception_text(exc: BaseException) -> str:
    """``Type: message`` with credentials redacted, for texts that are stored or leave the
    process (histories, exports, errors built from another error); never raises, even for
    an exception whose ``__str__`` does."""
    try:
        message = str(exc)
    except Exception:
        message = "<message unavailable>"
    return redact_text(f"{type(exc).__name__}: {message}")


def error_status(exc: BaseException) -> Status:
    """``ERROR`` with the exception's type name as the description, never its message."""
    return Status(StatusCode.ERROR, type(exc).__qualname__)


def record_exception(span: Span, exc: BaseException) -> None:
    """Add the exception event to ``span`` with its message and stack trace redacted.

    An exception whose ``__str__`` raises still gets its event (the SDK's
    ``record_exception`` calls ``str()`` itself, and would raise into the caller): with the
    type, a placeholder message and the stack trace, as the SDK would have recorded it.
    """
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not break the host program
        kind = type(exc)
        module = kind.__module__
        span.add_event(
            EXCEPTION_EVENT,
            {
                EXCEPTION_TYPE: f"{module}.{kind.__qualname__}"
                if module and module != "builtins"
                else kind.__qualname__,
                EXCEPTION_MESSAGE: f"<{kind.__qualname__}: message unavailable>",
                EXCEPTION_STACKTRACE: redact_text(_stacktrace(exc)),
            },
        )
        return
    span.record_exception(
        exc,
        attributes={
            EXCEPTION_MESSAGE: redact_text(message),
            EXCEPTION_STACKTRACE: redact_text(_stacktrace(exc)),
        },
    )


def _stacktrace(exc: BaseException) -> str:
    try:
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception:
        return f"<{type(exc).__qualname__}: stack trace unavailable>"
