"""One line per signal when exports fail, rather than one every few seconds.

Without a reachable Collector, the OTLP exporters log a ``Transient error ... retrying``
warning on every retry of every batch, and a ``Failed to export`` error when they give up:
for traces and metrics, a line every second or two, burying the program's own output.
:func:`quiet_export_errors` (called by :func:`otel_agents.configure`) puts a filter on the
exporters' loggers that lets the first failure of each exporter and signal through, says that
further ones are counted, and then lets one through every :data:`REPEAT_INTERVAL` seconds with
the number it held back. What was never exported is still reported once, by ``shutdown()``.
Only these loggers are filtered, and only records at WARNING and above.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

from otel_agents._exception_events import redact_text
from otel_agents._export import REDACTED
from otel_agents._logs import foreign_logger

__all__ = [
    "EXPORTER_LOGGERS",
    "REPEAT_INTERVAL",
    "ExportErrorFilter",
    "loud_export_errors",
    "quiet_export_errors",
    "redact_export_message",
    "redact_header_warnings",
]

#: The loggers of the OTLP exporters (HTTP per signal, the HTTP client they share, gRPC).
EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
)

#: Seconds between two export-error lines of the same exporter and signal.
REPEAT_INTERVAL = 300.0

#: The words the exporters use for a signal in their messages (gRPC shares one logger).
_SIGNALS = frozenset({"traces", "spans", "metrics", "logs"})


class ExportErrorFilter(logging.Filter):
    """Let one export-error record per exporter and signal through per ``interval``."""

    def __init__(
        self, interval: float = REPEAT_INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()  # exporters log from their own threads
        self._next: dict[tuple[str, str], float] = {}
        self.held_back: dict[tuple[str, str], int] = {}

    def reset(self) -> None:
        with self._lock:
            self._next.clear()
            self.held_back.clear()

    def filter(self, record: logging.LogRecord) -> bool:
        signal = _signal(record)  # before redacting: that folds the args into the message
        _redact(record)
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, signal)
        now = self._clock()
        with self._lock:
            if not key[1]:  # names no signal ("Shutdown in progress"): a follow-up line
                key = next(
                    (k for k, due in self._next.items() if k[0] == key[0] and now < due), key
                )
            due = self._next.get(key)
            if due is not None and now < due:
                self.held_back[key] = self.held_back.get(key, 0) + 1
                return False
            skipped = self.held_back.pop(key, 0)
            self._next[key] = now + self.interval
        since = f" ({skipped} more since the last such line)" if skipped else ""
        try:
            text = record.getMessage()
        except Exception:  # a malformed record: pass it on untouched
            return True
        record.msg = (
            f"{text}{since} [otel-agents: further export errors of this exporter are logged at "
            f"most once every {self.interval:g} s; shutdown() reports what was not exported. "
            "No Collector? See the README's 'Without a Collector'.]"
        )
        record.args = ()
        return True


_filter = ExportErrorFilter()


def quiet_export_errors() -> ExportErrorFilter:
    """Install the filter on the exporters' loggers (once) and start it afresh."""
    _filter.reset()
    for name in EXPORTER_LOGGERS:
        logger = foreign_logger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)
    return _filter


def loud_export_errors() -> None:
    """Remove the filter again (shutdown(), and :func:`otel_agents.testing.reset_configure`).

    By class name rather than identity: a filter installed by an earlier import of this
    module (tests that reload ``otel_agents``) is removed too.
    """
    for name in EXPORTER_LOGGERS:
        logger = foreign_logger(name)
        for stale in [f for f in logger.filters if type(f).__name__ == "ExportErrorFilter"]:
            logger.removeFilter(stale)


# A header value the transport refused, as http.client/requests quote it:
# "... in header value: 'Bearer s3cret\\n'" (whatever set it: an argument, a variable, a hook).
_HEADER_VALUE = re.compile(
    r"(?P<lead>header value\b[^:\n]{0,40}:\s*)"
    r"(?P<value>b?'(?:[^'\\]|\\.)*'|b?\"(?:[^\"\\]|\\.)*\"|\S+)",
    re.IGNORECASE,
)
# userinfo before a host without a scheme: the gRPC exporter logs its target as
# "alice:s3cret@127.0.0.1:4317".
_BARE_USERINFO = re.compile(r"(?<![\w.+%:/@-])[^\s/@'\"<>()\[\]]+@(?=[\w.-]+:\d|\[)")


def redact_export_message(text: str) -> str:
    """``text`` without credentials the exporters may quote: refused header values, URL
    userinfo (with or without a scheme) and ``Bearer``/``Basic`` tokens."""
    text = _HEADER_VALUE.sub(lambda m: f"{m['lead']}{REDACTED}", text)
    text = _BARE_USERINFO.sub(f"{REDACTED}@", text)
    return redact_text(text)


def _redact(record: logging.LogRecord) -> None:
    try:
        text = record.getMessage()
    except Exception:  # a malformed record: the handler reports it as it would have
        return
    redacted = redact_export_message(text)
    if redacted != text:
        record.msg = redacted
        record.args = ()


def _signal(record: logging.LogRecord) -> str:
    args = record.args if isinstance(record.args, tuple) else ()
    for arg in args:
        if isinstance(arg, str) and arg in _SIGNALS:
            return arg
    return ""


class _RedactHeaders(logging.Filter):
    """Rewrite the SDK's warning about a malformed ``OTEL_EXPORTER_OTLP_*HEADERS`` pair.

    The SDK prints the pair itself, and header values are usually credentials.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = (
            "OTEL_EXPORTER_OTLP_HEADERS (or a per-signal OTEL_EXPORTER_OTLP_*_HEADERS) holds "
            "a pair that is not key=value; it is ignored and the other pairs are used "
            "(its text is not shown: header values are often credentials)"
        )
        record.args = ()
        return True


# The SDK module that parses OTEL_EXPORTER_OTLP_*HEADERS and warns about bad pairs.
_HEADER_PARSER_LOGGER = "opentelemetry.util.re"


def redact_header_warnings() -> None:
    """Make the SDK's header-parsing warnings safe to log. Idempotent."""
    logger = foreign_logger(_HEADER_PARSER_LOGGER)
    if not any(isinstance(f, _RedactHeaders) for f in logger.filters):
        logger.addFilter(_RedactHeaders())
