"""``error.type`` on ``agent.errors``: the tracker's ``context["error_type"]``, bounded.

The Agent performance board splits "Errors per second" by ``error.type``, which the tracker
never set. An ``error_count`` recorded with ``context={"error_type": "TimeoutError"}`` now
carries it. It becomes a metric label, so it is bounded: a short identifier (an exception
class name or an error code: letters, digits, ``_ . : -``, at most 64 characters) and at most
:data:`MAX_ERROR_TYPES` distinct values per tracker; anything else, and every new value past
the limit, is ``_OTHER`` (the OpenTelemetry conventions' fallback for ``error.type``).
"""

from __future__ import annotations

import re
import threading

from otel_agents import semconv

__all__ = ["MAX_ERROR_TYPES", "ErrorTypes"]

#: Distinct ``error.type`` values one tracker reports; later new ones are ``_OTHER``.
MAX_ERROR_TYPES = 50
_IDENTIFIER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:\-]{0,63}")


class ErrorTypes:
    """The ``error.type`` values a tracker has reported, at most ``limit`` of them."""

    def __init__(self, limit: int = MAX_ERROR_TYPES) -> None:
        self._limit = limit
        self._seen: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def label(self, value: object) -> str:
        """``value`` when it is a short identifier already reported or room is left, else
        ``_OTHER``."""
        if type(value) is not str:  # a list would not even hash
            return semconv.ERROR_TYPE_OTHER
        if value in self._seen:
            return value
        if _IDENTIFIER.fullmatch(value) is None:
            return semconv.ERROR_TYPE_OTHER
        with self._lock:
            if value not in self._seen and len(self._seen) >= self._limit:
                return semconv.ERROR_TYPE_OTHER
            self._seen = self._seen | {value}
        return value
