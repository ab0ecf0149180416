"""Our own log records without the secrets their texts often carry.

Spans get exception messages and stack traces redacted (:mod:`otel_agents._exception_events`);
the library's own log records need the same, because what they quote is the same: a user
callback raising ``ValueError("login failed: password=hunter2")``, an exporter error echoing
``Authorization: Bearer ...``, a URL with ``user:password@`` in it. A host program's logs are
collected, shipped and kept by people who should not see those.

Every module of ``otel_agents`` gets its logger from :func:`redacting_logger`, which attaches one
:class:`RedactingFilter` to it. A logger's filters run before any handler sees the record (and
only for records the logger's level lets through, so never on a hot path), and they run only
on the logger a record was logged on: that is why every one of our loggers needs the filter,
and why ``tests/test_logs.py`` fails if a module calls ``logging.getLogger`` itself.

Other libraries' loggers (``opentelemetry.*``, ``uvicorn.*``, ``httpx``) and the root logger
are not ours: :func:`foreign_logger` returns them unchanged, for the few places that add a
handler or a filter of their own there. Library code configures no logging globally.

The OpenTelemetry logging handler (which :func:`configure` adds on request) formats a record's
exception from ``exc_info`` itself, bypassing the filter's work: it is given
:func:`exportable` copies of our records instead.
"""

from __future__ import annotations

import logging
import re

from otel_agents.semconv import EXCEPTION_MESSAGE, EXCEPTION_STACKTRACE, EXCEPTION_TYPE

__all__ = [
    "FALLBACK_MESSAGE",
    "FALLBACK_TRACEBACK",
    "RedactingFilter",
    "exportable",
    "foreign_logger",
    "is_ours",
    "redacting_logger",
]

#: The text of a record whose redaction failed: the record is still emitted (its level,
#: logger and place say something happened), but none of its own text is shown.
FALLBACK_MESSAGE = "otel-agents: a log record could not be made safe to show; its text is withheld"
#: The traceback text in that case (the handler would otherwise format the raw one).
FALLBACK_TRACEBACK = "(traceback withheld: it could not be made safe to show)"

_formatter = logging.Formatter()
_BLANK = re.compile(r"\s")


class RedactingFilter(logging.Filter):
    """Rewrites each record of our loggers with credential-like values masked.

    * The message: ``record.getMessage()`` through ``redact_text``. When that changed
      anything, ``record.msg`` becomes the redacted text and ``record.args`` becomes ``()``
      (the arguments held the secret); otherwise both are left as they were, so handlers that
      read ``args`` (the audit trail's attribute mapping) still can. A record whose arguments
      do not fit its format keeps its (redacted) format and a note instead of the arguments,
      rather than ending in the handler's "--- Logging error ---" dump of them.
    * The traceback: when ``record.exc_info`` is set, ``record.exc_text`` is set to the
      redacted formatted traceback. ``logging.Formatter.format`` (and so every standard
      handler, and pytest's ``caplog.text``) prints a pre-set ``exc_text`` instead of
      formatting ``exc_info`` again. ``record.exc_info`` itself is kept, so a handler that
      wants the exception object still gets it; such a handler (one that formats
      ``exc_info`` itself, or a formatter that overrides ``formatException``) sees the raw
      exception and must redact on its own.
    * ``record.stack_info`` (``stack_info=True``) likewise.

    Never raises and never drops a record: if redaction fails, the record is emitted with
    :data:`FALLBACK_MESSAGE` (and :data:`FALLBACK_TRACEBACK`) instead of its own text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            _redact(record)
        except Exception:  # logging must not fail, nor fall back to the raw text
            record.msg = FALLBACK_MESSAGE
            record.args = ()
            if record.exc_info:
                record.exc_text = FALLBACK_TRACEBACK
            if record.stack_info:
                record.stack_info = FALLBACK_TRACEBACK
        return True


def _redact(record: logging.LogRecord) -> None:
    # Lazily: _exception_events imports _export, which most modules that log are imported by.
    from otel_agents._exception_events import redact_text

    try:
        text = record.getMessage()
    except Exception as exc:  # arguments that do not fit the format, a raising __str__
        # str() of the format may raise as well (an object logged as the message): then
        # the filter's fallback text is used.
        record.msg = (
            f"{redact_text(str(record.msg))} [otel-agents: the arguments of this record could "
            f"not be formatted ({type(exc).__name__}); they are not shown]"
        )
        record.args = ()
    else:
        redacted = redact_text(text)
        if redacted != text:
            record.msg = redacted
            record.args = ()
    if record.exc_info:
        record.exc_text = _redacted_long(_formatter.formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = _redacted_long(record.stack_info)


def _redacted_long(text: str) -> str:
    """A traceback redacted, its middle left out past ``MAX_TEXT`` characters.

    ``redact_text`` keeps the first ``MAX_TEXT`` characters (bounded time), but what a
    traceback is for is at its end: the exception logged, after a cause that quoted a huge
    answer, was not in the line at all. Both halves are cut at a blank (no part begins
    inside a value whose key it no longer sees) and redacted each.
    """
    from otel_agents._exception_events import MAX_TEXT, redact_text

    if len(text) <= MAX_TEXT:
        return redact_text(text)
    half = MAX_TEXT // 2
    head_end = max(text.rfind(" ", 0, half), text.rfind("\n", 0, half), 0)
    blank = _BLANK.search(text, len(text) - half)
    tail_start = len(text) if blank is None else blank.end()
    left_out = tail_start - head_end
    return (
        f"{redact_text(text[:head_end])}\n[otel-agents: {left_out} characters of this "
        f"traceback are left out]\n{redact_text(text[tail_start:])}"
    )


_filter = RedactingFilter()


def redacting_logger(name: str) -> logging.Logger:
    """The logger ``name`` (one of ours: ``otel_agents`` or below) with the redacting filter.

    Idempotent: the filter is attached once per logger, however often this is called, and
    a filter left by an earlier import of this module (tests that reload ``otel_agents``)
    counts as attached.
    """
    logger = logging.getLogger(name)
    if not any(type(f).__name__ == RedactingFilter.__name__ for f in logger.filters):
        logger.addFilter(_filter)
    return logger


def foreign_logger(name: str = "") -> logging.Logger:
    """Another library's logger (the root logger for ``""``), unchanged: for adding a
    handler or filter there. Its records are that library's, not ours to rewrite."""
    return logging.getLogger(name)


def is_ours(record: logging.LogRecord) -> bool:
    """Whether ``record`` was logged on one of our loggers (and so went through the filter)."""
    return record.name == "otel_agents" or record.name.startswith("otel_agents.")


def exportable(record: logging.LogRecord) -> logging.LogRecord:
    """``record`` as the OpenTelemetry logging handler may export it.

    That handler builds ``exception.message`` and ``exception.stacktrace`` from
    ``record.exc_info`` itself, so the raw exception of one of our records would leave the
    process in an exported log record. For our records with an exception this returns a copy
    without ``exc_info``, carrying the three attributes already redacted (the handler exports a
    record's own attributes as they are); any other record is returned unchanged: other
    libraries' and the application's records are not ours to rewrite.
    """
    if not (record.exc_info and is_ours(record)):
        return record
    kind, value, _ = record.exc_info
    copy = logging.makeLogRecord(record.__dict__)
    copy.exc_info = None
    copy.exc_text = None
    attributes = vars(copy)
    if kind is not None:
        attributes[EXCEPTION_TYPE] = kind.__name__
    try:
        from otel_agents._exception_events import redact_text

        message = "" if value is None else redact_text(str(value))
    except Exception:  # a raising __str__: the type says enough
        message = FALLBACK_MESSAGE
    if message:
        attributes[EXCEPTION_MESSAGE] = message
    # Set by the filter: the redacted traceback (or the fixed text if that failed).
    attributes[EXCEPTION_STACKTRACE] = record.exc_text or FALLBACK_TRACEBACK
    return copy
