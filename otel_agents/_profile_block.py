"""The block :meth:`PerformanceProfiler.profile` returns: ``with`` / ``async with`` a span.

Split from :mod:`otel_agents._profiler` (the profiler itself). A block object may be entered
again before it is exited, nested or by several tasks and threads at once (a module-level
``step = profiler.profile("step")`` shared by concurrent tasks): each entry keeps its own
span, context token and start time, so none is lost and every context token is detached in
the context that attached it.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Mapping
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context, trace
from opentelemetry.trace import Span

from otel_agents import semconv
from otel_agents._export import is_secret_key, redact_string

if TYPE_CHECKING:
    from otel_agents._profiler import PerformanceProfiler

__all__ = ["Profile", "detach_here", "span_attributes"]

_perf_counter = time.perf_counter

#: Guards every ``Profile``'s open entries (held for an append or a removal only).
_open_lock = threading.Lock()
#: This context's marked entries, innermost first, as a linked stack ``(block, rest,
#: disabled)``: a disabled entry made while an enabled entry of its block is open somewhere
#: (its exit must not take that one for its own), and, with ``disabled=False``, an enabled
#: entry made above a marked one. Exits in a context are nested, so an exit whose block is
#: on top is that entry's. A disabled entry of a block with nothing open (the usual case)
#: is only counted (``Profile._quiet``, one item per such entry not exited yet: list
#: appends and pops need no lock): its exit finds nothing open, or nothing open whose span
#: is current in its context, and ends nothing.
_Quiet = tuple["Profile", "_Quiet | None", bool]
_quiet: ContextVar[_Quiet | None] = ContextVar("otel_agents_profile_quiet", default=None)


def detach_here(token: object) -> None:
    """Detach ``token`` if it was attached in this context. A block exited in a context that
    did not enter it (a generator stepped in context copies, as Starlette streams them) has
    nothing of its own attached here: OpenTelemetry's ``detach`` would log an error."""
    if isinstance(token, contextvars.Token):
        with contextlib.suppress(ValueError):  # "created in a different Context"
            token.var.reset(token)
    else:
        otel_context.detach(token)  # type: ignore[arg-type]


def span_attributes(name: str, context: Mapping[str, Any] | None) -> dict[str, Any]:
    """A block's span attributes: its name, and the string, number and bool values of
    ``context`` as ``agent.context.<key>`` (``operation``: ``agent.operation``), leaving out
    keys that may name a credential, and with a URL's credentials and token-like parameters
    masked in a string (:func:`~otel_agents._export.redact_string`, as the tracker does)."""
    attributes: dict[str, Any] = {semconv.AGENT_PROFILE_NAME: name}
    for key, value in (context or {}).items():
        key = str(key)
        if isinstance(value, str):
            value = redact_string(value)
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

    __slots__ = ("_attributes", "_metric_attributes", "_name", "_open", "_profiler", "_quiet")

    def __init__(
        self,
        profiler: PerformanceProfiler,
        name: str,
        span_attributes: dict[str, Any] | None = None,
        metric_attributes: dict[str, Any] | None = None,
    ) -> None:
        self._profiler = profiler
        self._name = name
        # The SDK copies attributes it is given, so one dict can serve the span and the
        # metric, and blocks of one name can share it.
        self._metric_attributes = metric_attributes or {semconv.AGENT_PROFILE_NAME: name}
        self._attributes = span_attributes or self._metric_attributes
        self._open: list[tuple[Span, object, float]] = []
        #: Disabled entries made while nothing of this block was open, not exited yet: an
        #: exit that finds open entries but none whose span is current here is one of them.
        self._quiet: list[None] = []

    def __enter__(self) -> Profile:
        # Whether profiling is on is read here, at entry, not when profile() made the block:
        # a kept block follows ``profiling_enabled`` as it is toggled.
        if not self._profiler._enabled:
            if self._open:  # an enabled entry of this block is open: mark this one
                _quiet.set((self, _quiet.get(), True))
            else:
                self._quiet.append(None)
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
        """The entry this exit ends: the only one, or the one whose span is current here;
        none for a counted disabled entry's exit."""
        with _open_lock:
            entries = self._open
            if not entries:
                self._unquiet()
                return None
            if len(entries) == 1 and not self._quiet:
                return entries.pop()
            current = trace.get_current_span()
            for index in range(len(entries) - 1, -1, -1):
                if entries[index][0] is current:
                    return entries.pop(index)
            if self._quiet:
                # A counted disabled entry's exit (its context holds none of these spans):
                # it started nothing, so it ends nothing.
                self._unquiet()
                return None
            # Exited in a context that did not enter it (a generator stepped in context
            # copies): end the latest entry rather than leave a span open forever. With one
            # block per ``profile()`` call that is the only entry; a block kept and shared
            # by concurrent contexts cannot tell whose it is.
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
        if not self._open:  # nothing of this block is open: a counted disabled entry's exit
            if self._quiet:
                self._unquiet()
            return
        entry = self._take()
        if entry is None:
            return
        span, token, started = entry
        self._profiler._finish(span, token, started, self._name, self._metric_attributes, exc)

    def _unquiet(self) -> None:
        """One counted disabled entry has exited (a concurrent exit may have taken the last)."""
        try:  # noqa: SIM105 - no context manager: this is on the disabled path
            self._quiet.pop()
        except IndexError:
            pass

    async def __aenter__(self) -> Profile:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)
