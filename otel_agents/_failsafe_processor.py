"""A span processor that never lets the processor it wraps break the user's code.

The SDK calls span processors inline: ``on_start`` inside ``start_span`` and ``on_end``
inside ``span.end()``, one after the other. A user-supplied processor that raises there
turns a successful profiled call (or any ``with`` span block) into an exception in the
host program, and the processors after it (:class:`~otel_agents.genai.GenAISpanProcessor`,
the exporters) never see the span. :func:`configure` wraps every processor passed in
``span_processors=`` in :class:`FailsafeSpanProcessor`: an exception is logged once per
distinct error (with its traceback) and the span goes on to the next processor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otel_agents._logs import redacting_logger
from otel_agents._runtime import FailureLog, error_key

__all__ = ["FailsafeSpanProcessor", "failsafe_span_processor"]

_logger = redacting_logger("otel_agents")

R = TypeVar("R")


class FailsafeSpanProcessor(SpanProcessor):
    """Calls ``wrapped`` and logs (once per distinct error) instead of raising.

    Args:
        wrapped: the span processor to guard; available as :attr:`wrapped`.
    """

    def __init__(self, wrapped: SpanProcessor) -> None:
        self.wrapped = wrapped
        self._failures = FailureLog(
            _logger,
            "span processor %s raised; the span goes on to the next processors, and the "
            "user's code is not affected (logged once per distinct error)",
            level=logging.WARNING,
        )

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._guard("on_start", lambda: self.wrapped.on_start(span, parent_context), None)

    def _on_ending(self, span: Span) -> None:
        on_ending = getattr(self.wrapped, "_on_ending", None)
        if on_ending is not None:
            self._guard("_on_ending", lambda: on_ending(span), None)

    def on_end(self, span: ReadableSpan) -> None:
        self._guard("on_end", lambda: self.wrapped.on_end(span), None)

    def shutdown(self) -> None:
        self._guard("shutdown", self.wrapped.shutdown, None)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._guard("force_flush", lambda: self.wrapped.force_flush(timeout_millis), False)

    def _guard(self, method: str, call: Callable[[], R], default: R) -> R:
        try:
            return call()
        except Exception as exc:
            name = type(self.wrapped).__qualname__
            self._failures.record(
                (method, *error_key(exc)), f"{name}.{method} ({type(exc).__qualname__}: {exc})"
            )
            return default

    def __repr__(self) -> str:
        return f"FailsafeSpanProcessor({self.wrapped!r})"


def failsafe_span_processor(processor: SpanProcessor) -> SpanProcessor:
    """``processor`` wrapped in a :class:`FailsafeSpanProcessor` (once)."""
    if isinstance(processor, FailsafeSpanProcessor):
        return processor
    return FailsafeSpanProcessor(processor)
