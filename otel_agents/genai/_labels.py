"""Metric label values that come from a model server: bounded in length and in number.

A finish reason and an error type reach our metrics from what a provider answered (the
``finish_reason`` of a response, read by an official instrumentation and copied onto its
span) or from code. Each distinct value is a time series for as long as the process runs, so
a hostile or buggy server sending a unique 200 kB reason per response would grow every
collection and export without end. Spans keep what was said (the SDK's attribute length
limit applies there); metrics keep:

* a finish reason only from :data:`~otel_agents.semconv.AGENT_MODEL_FINISH_REASONS` (the
  conventions' well-known values), else ``_OTHER``;
* an error type only when it looks like an identifier (an exception's class name, an HTTP
  status code) of at most :data:`MAX_ERROR_TYPE` characters, and only the first
  :data:`MAX_ERROR_TYPES` distinct ones of a :class:`ErrorTypes`; else ``_OTHER``, the
  conventions' fallback value of ``error.type``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence

from otel_agents import semconv as sc

__all__ = ["MAX_ERROR_TYPE", "MAX_ERROR_TYPES", "ErrorTypes", "finish_reason_label"]

#: The longest ``error.type`` label: a class name, qualified or not (``APITimeoutError``).
MAX_ERROR_TYPE = 64
#: Distinct ``error.type`` labels one :class:`ErrorTypes` hands out; later ones are _OTHER.
MAX_ERROR_TYPES = 64
#: What an error type may look like: a (qualified) class name, a local one's ``<locals>``,
#: a status code, a short snake_case reason.
_ERROR_TYPE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.<>-]*", re.ASCII)
_KNOWN = sc.AGENT_MODEL_FINISH_REASONS


def finish_reason_label(reasons: Sequence[str]) -> str:
    """``agent.model.finish_reason``: the first reason if well-known, ``none`` for none."""
    if not reasons:
        return sc.AGENT_MODEL_FINISH_REASON_NONE
    first = reasons[0]
    return first if first in _KNOWN else sc.AGENT_MODEL_FINISH_REASON_OTHER


class ErrorTypes:
    """The ``error.type`` labels of one set of instruments, at most :data:`MAX_ERROR_TYPES`."""

    __slots__ = ("_lock", "_seen")

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def label(self, error_type: str | None) -> str | None:
        """The label for ``error_type`` (``None`` stays ``None``: no error)."""
        if error_type is None or error_type in self._seen:
            return error_type  # the hot path: no lock, no regex
        if len(error_type) > MAX_ERROR_TYPE or _ERROR_TYPE.fullmatch(error_type) is None:
            return sc.ERROR_TYPE_OTHER
        with self._lock:
            if len(self._seen) >= MAX_ERROR_TYPES:
                return sc.ERROR_TYPE_OTHER
            self._seen.add(error_type)
        return error_type
