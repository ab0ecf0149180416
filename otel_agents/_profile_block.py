"""The block :meth:`PerformanceProfiler.profile` returns: ``with`` / ``async with`` a span.

Split from :mod:`otel_agents._profiler` (the profiler itself). A block object may be entered
again before it is exited, nested or by several tasks and threads at once (a module-level
``step = profiler.profile("step")`` shared by concurrent tasks): each entry keeps its own
span, context token and start time, so none is lost and every context token is detached in
the context that attached it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Span

from otel_agents import semconv
from otel_agents._export import is_secret_key

if TYPE_CHECKING:
    from otel_agents._profiler import PerformanceProfiler

__all__ = ["Profile", "span_attributes"]

_perf_counter = time.perf_counter

#: Guards every ``Profile``'s open entries (held for an append or a removal only).
_open_lock = threading.Lock()
#: This context's marked entries, innermost first, as a linked stack ``(block, rest,
#: disabled)``: a disabled entry made while an enabled entry of its block is open somewhere
#: (its exit must not take that one for its own), and, with ``disabled=False``, an enabled
#: entry made above a marked one. Exits in a context are nested, so an exit whose block is
#: on top is that entry's. A disabled entry of a block with nothing open (the usual case)
#: is not marked: its exit finds nothing open, or nothing open whose span is current in its
#: context, and ends nothing; so it costs a flag read and one context-variable read.
_Quiet = tuple["Profile", "_Quiet | None", bool]
_quiet: ContextVar[_Quiet | None] = ContextVar("otel_agents_profile_quiet", default=None)


def span_attributes(name: str, context: Mapping[str, Any] | None) -> dict[str, Any]:
    """A block's span attributes: its name, and the string, number and bool values of
    ``context`` as ``agent.context.<key>`` (``operation``: ``agent.operation``), leaving out
    keys that may name a credential."""
    attributes: dict[str, Any] = {semconv.AGENT_PROFILE_NAME: name}
    for key, value in (context or {}).items():
        key = str(key)
        if isinstance(value, str | bool | int | float) and not is_secret_key(key):
            attributes[
                semconv.CONTEXT_KEY_ATTRIBUTES.get(key, semconv.AGENT_CONTEXT_PREFIX + key)
            ] = value
    return attributes


class Profile:
    """One profiled block; ``with`` and ``async with`` both work.

    One object may be entered again before it is exited: nested, or by tasks and threads
    sharing a module-level ``step = profiler.profile("step")``. Each entry records only if
    profiling is enabled at that moment (``profiling_enabled`` may be toggled). Each entry
    keeps its own span, context token and start time; an exit takes the entry whose span is
    current in its context (the one its own entry attached), so every entry ends its own
    span and detaches its token in the context that attached it.
    """

    __slots__ = ("_attributes", "_metric_attributes", "_name", "_open", "_profiler", "_unmarked")

    def __init__(
        self,
        profiler: PerformanceProfiler,
        name: str,
        span_attributes: dict[str, Any] | None = None,
    ) -> None:
        self._profiler = profiler
        self._name = name
        # The SDK copies attributes it is given, so one dict can serve the span and the metric.
        self._metric_attributes = {semconv.AGENT_PROFILE_NAME: name}
        self._attributes = span_attributes or self._metric_attributes
        self._open: list[tuple[Span, object, float]] = []
        #: Set once a disabled entry went unmarked: from then on an exit ends only an entry
        #: whose span is current in its context (an unmarked disabled exit's is not).
        self._unmarked = False

    def __enter__(self) -> Profile:
        # Whether profiling is on is read here, at entry, not when profile() made the block:
        # a kept block follows ``profiling_enabled`` as it is toggled.
        if not self._profiler._enabled:
            if self._open:  # an enabled entry of this block is open: mark this one
                _quiet.set((self, _quiet.get(), True))
            elif not self._unmarked:
                self._unmarked = True
            return self
        quiet = _quiet.get()
        if quiet is not None:  # inside a disabled entry: mark this one for its exit
            _quiet.set((self, quiet, False))
        span, token = self._profiler._start(self._name, self._attributes)
        entry = (span, token, _perf_counter())
        with _open_lock:
            self._open.append(entry)
        return self

    def _take(self) -> tuple[Span, object, float] | None:
        """The entry this exit ends: the only one, or the one whose span is current here."""
        with _open_lock:
            entries = self._open
            if not entries:
                return None
            if len(entries) == 1 and not self._unmarked:
                return entries.pop()
            current = trace.get_current_span()
            for index in range(len(entries) - 1, -1, -1):
                if entries[index][0] is current:
                    return entries.pop(index)
            if self._unmarked:
                # An unmarked disabled entry's exit (its context holds none of these spans):
                # it started nothing, so it ends nothing.
                return None
            # Exited in a context that did not enter it (the span is not current there):
            # end the latest entry rather than leave a span open forever.
            return entries.pop()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        quiet = _quiet.get()
        if quiet is not None and quiet[0] is self:
            _quiet.set(quiet[1])
            if quiet[2]:
                return  # a disabled entry: nothing was started
        if not self._open:
            return  # nothing of this block is open anywhere (an unmarked disabled exit)
        entry = self._take()
        if entry is None:
            return
        span, token, started = entry
        self._profiler._finish(span, token, started, self._name, self._metric_attributes, exc)

    async def __aenter__(self) -> Profile:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)
