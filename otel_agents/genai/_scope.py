"""The shape shared by ``invoke_agent``, ``execute_tool`` and ``model_call``: one object that
is a context manager (``with`` and ``async with``) and, for the first two, a decorator of
sync and async functions.

Entering starts the span and attaches its context (with the GenAI attribution) directly, as
the profiler does, rather than through ``start_as_current_span``'s generator: this runs once
per model call. A failure marks the span (ERROR status named by the exception's type,
``error.type``, a redacted exception event) and propagates unchanged. Cancellation and
``KeyboardInterrupt`` are not failures of an agent invocation; a model call or tool execution
they cut off did not complete, and is marked like a failure (:func:`call_error_type_of`).
"""

from __future__ import annotations

import functools
import inspect
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextvars import Token
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import Span

from otel_agents import semconv as sc
from otel_agents._errors import InvalidTypeError, OtelAgentsError
from otel_agents._exception_events import error_status, record_exception
from otel_agents._logs import redacting_logger
from otel_agents._profiled_generators import NOT_ERRORS
from otel_agents._runtime import FailureLog

__all__ = ["Scope", "ScopeActiveError", "call_error_type_of", "error_type_of", "mark_failed"]

_logger = redacting_logger("otel_agents.genai")
_FAILURES = FailureLog(_logger, "GenAI telemetry: %s failed; the call went on without it")
#: The token of a scope whose start failed: nothing to detach or finish.
_INACTIVE: Any = object()
#: The token of a scope being entered: claimed before ``_start`` so a concurrent second
#: entry (another thread) sees it active and is refused.
_CLAIMED: Any = object()
#: Makes check-and-claim atomic across threads; held for two attribute operations only.
_CLAIM_LOCK = threading.Lock()
#: Context key: the active scopes a context was made in, outermost first.
_SCOPES = otel_context.create_key("otel_agents.genai.scopes")
#: Scope types whose exit outside their context was logged (once each).
_STALE_LOGGED: set[str] = set()


def _stale_exit(kind: str) -> None:
    if kind in _STALE_LOGGED:
        return
    _STALE_LOGGED.add(kind)
    _logger.warning(
        "a %s ended outside the context it made current (a generator suspended inside it and "
        "closed or garbage-collected later, or a scope left in another thread or task): the "
        "current context is left as it is, and the call is recorded as not completed if it "
        "was cut off. Decorate such a generator function with @genai.streaming so that its "
        "scopes stay inside it (logged once)",
        kind,
    )


class ScopeActiveError(OtelAgentsError, RuntimeError):
    """A scope object (``invoke_agent(...)``, ``execute_tool(...)``, ``model_call(...)``)
    entered again while it is still active."""


P = ParamSpec("P")
R = TypeVar("R")


def error_type_of(exc: BaseException | None) -> str | None:
    """``error.type`` of an agent invocation ended by ``exc``: its class name; ``None`` for
    no error or a cancellation (the agent stopped, it did not fail)."""
    if exc is None or isinstance(exc, NOT_ERRORS):
        return None
    return type(exc).__qualname__


def call_error_type_of(exc: BaseException | None) -> str | None:
    """``error.type`` of a model call or tool execution ended by ``exc``: its class name,
    cancellations included.

    A call cut off by ``asyncio.timeout`` (``CancelledError`` where the scope sees it), a
    task cancelled, ``KeyboardInterrupt``, a stream closed or abandoned before its end
    (``GeneratorExit``) did not complete: the conventions ask for ``error.type`` when the
    operation "ended in an error", and recording such a call as a success would count an
    answer that never came. The class name, as for every other exception, keeps one rule.
    """
    return None if exc is None else type(exc).__qualname__


def mark_failed(span: Span, exc: BaseException, error_type: str) -> None:
    """Record ``exc`` on ``span``: redacted exception event, ERROR status, ``error.type``."""
    record_exception(span, exc)
    span.set_status(error_status(exc))
    span.set_attribute(sc.ERROR_TYPE, error_type)


class Scope(ABC):
    """Base class: subclasses implement :meth:`_start` and :meth:`_finish`, and :meth:`_copy`
    (a fresh scope with the same arguments, one per decorated call)."""

    __slots__ = ("_token",)

    def __init__(self) -> None:
        self._token: Token[Context] | None = None

    @abstractmethod
    def _start(self) -> Context:
        """Start the span; return the context to make current."""

    @abstractmethod
    def _finish(self, exc: BaseException | None) -> None:
        """End the span and record metrics (the context is already detached)."""

    @abstractmethod
    def _copy(self) -> Scope:
        """A fresh scope with the same arguments."""

    def __enter__(self) -> Any:
        with _CLAIM_LOCK:
            # A second entry (here or from another thread) would overwrite the first one's
            # span and context: the first span would never end and its context would stay
            # current on its thread. Check and claim together, before starting anything.
            claimed = self._token is None
            if claimed:
                self._token = _CLAIMED
        if not claimed:
            raise ScopeActiveError(
                f"this {type(self).__name__} is already active: use a new one per `with` block (or "
                "decorate the function: every call gets its own)"
            )
        try:
            context = self._start()
        except Exception:  # telemetry must not break the call: this scope records nothing
            _FAILURES.record(("start", type(self).__name__), f"{type(self).__name__} start")
            self._token = _INACTIVE
            return self
        except BaseException:  # KeyboardInterrupt and the like: the `with` body never runs
            self._token = None
            raise
        # The scopes whose context this one derives from, and this one: at exit, whether the
        # current context is still ours or made inside ours (see __exit__).
        outer = context.get(_SCOPES)
        scopes = (*outer, self) if isinstance(outer, tuple) else (self,)
        context = otel_context.set_value(_SCOPES, scopes, context)
        self._token = otel_context.attach(context)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        token, self._token = self._token, None
        if token is _INACTIVE or token is None or token is _CLAIMED:
            return
        # Restore the context from before this scope only while the current one is this
        # scope's or made inside it (an inner scope left open by a suspended generator is
        # discarded with it, as before). Otherwise this scope's context is no longer current
        # where it exits: a generator suspended inside the scope and closed later (abandoned,
        # garbage collected) by code that has moved on. Restoring then would set a stale
        # context, the old agent, conversation and a dead parent span, under whatever runs
        # next on this thread; leave it as it is.
        scopes = otel_context.get_current().get(_SCOPES)
        if isinstance(scopes, tuple) and self in scopes:
            otel_context.detach(token)
        else:
            _stale_exit(type(self).__name__)
        try:
            self._finish(exc)
        except Exception:  # never into the user's code, never instead of the user's exception
            _FAILURES.record(("finish", type(self).__name__), f"{type(self).__name__} finish")

    async def __aenter__(self) -> Any:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        """Decorate ``func``: every call runs inside a scope of its own. Generator functions
        are refused: their body runs after the call returns, outside any scope."""
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise InvalidTypeError(
                f"cannot decorate the generator function {func.__qualname__!r}: its body runs "
                "when it is iterated, after the call; use `with`/`async with` inside it and "
                "decorate it with @genai.streaming, which keeps the scope's context inside "
                "the generator (else it is current in the consumer's code between items)"
            )
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                async with self._copy():
                    return await func(*args, **kwargs)

            return cast(Callable[P, R], run_async)

        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with self._copy():
                return func(*args, **kwargs)

        return run
