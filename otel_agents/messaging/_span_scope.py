"""``SpanScope``: a messaging span made current, ended, and timed into its metrics.

Every send, batch and process span of :mod:`._telemetry` goes through it, and the hub's
router marks failed forwards with :func:`mark_failed`. It is the span's lifetime and failure
recording, separate from the recipes that decide a span's name, kind and attributes.
"""

from __future__ import annotations

import time
from contextvars import Token
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import Span

from otel_agents import semconv as sc
from otel_agents._exception_events import error_status, record_exception

__all__ = ["SpanScope", "mark_failed"]


class SpanScope:
    """Makes a span current, ends it, and records its duration (and a failure) in metrics.

    ``histogram`` gets the duration with ``attributes`` (plus ``error.type`` on failure);
    ``failed``, when given, counts failures. A small class rather than ``@contextmanager``
    generators: this runs twice per message.
    """

    __slots__ = ("_attributes", "_context", "_failed", "_histogram", "_span", "_started", "_token")

    def __init__(
        self,
        span: Span,
        context: Context,
        histogram: Any = None,
        attributes: dict[str, str] | None = None,
        failed: Any = None,
    ) -> None:
        self._span, self._context = span, context
        self._histogram, self._attributes, self._failed = histogram, attributes, failed
        self._started = 0.0
        self._token: Token[Context] | None = None

    def __enter__(self) -> Span:
        self._token = otel_context.attach(self._context)
        self._started = time.perf_counter()
        return self._span

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        try:
            attributes = self._attributes
            if exc is not None:
                mark_failed(self._span, exc)
                if attributes is not None:
                    attributes = {**attributes, sc.ERROR_TYPE: _error_type(exc, self._failed)}
                    if self._failed is not None:
                        self._failed.add(1, attributes)
            if self._histogram is not None and attributes is not None:
                self._histogram.record(time.perf_counter() - self._started, attributes)
        finally:
            if self._token is not None:
                otel_context.detach(self._token)
            self._span.end()


def _error_type(exc: BaseException, failed: Any) -> str:
    """A processing failure's ``error.type`` is the exception class (as it always was); a
    send failure's is its reason when it has one, as in ``messaging.client.sent.messages``."""
    reason = getattr(exc, "reason", None) if failed is None else None
    return reason if isinstance(reason, str) else type(exc).__qualname__


def mark_failed(span: Span, exc: BaseException, error_type: str | None = None) -> None:
    """Record ``exc`` on ``span``: the exception event, ERROR status and ``error.type``."""
    error_type = error_type or getattr(exc, "reason", None) or type(exc).__qualname__
    record_exception(span, exc)  # message and stack trace redacted; never raises
    span.set_status(error_status(exc))  # the type's name, never the message
    span.set_attribute(sc.ERROR_TYPE, error_type)
