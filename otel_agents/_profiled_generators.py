"""Profiling generators and async generators: the span covers the iteration, not the call.

Calling a generator function only creates the generator; the work happens while it is
iterated. So the wrappers here start the span at the first ``next()`` (or ``__anext__``) and
end it when the generator is exhausted, raises, or is closed (``break``, garbage collection).

The span's context is current only while the generator's own code runs: it is attached
around each step and detached before a value is handed to the consumer, so the consumer's
spans are not made children of the generator's span (and no context leaks across a
``yield``). ``send()``, ``throw()`` and ``close()`` (and their async forms) reach the wrapped
generator. A generator closed early (``GeneratorExit``) is not an error; see
:data:`NOT_ERRORS`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, Protocol

from opentelemetry import context as otel_context, trace
from opentelemetry.trace import Span

__all__ = ["NOT_ERRORS", "wrap_async_generator", "wrap_generator"]

#: Ways out of a profiled call that are not failures: cancellation (a timeout, a shutdown),
#: Ctrl-C, and a generator closed before its end. They end the span without ERROR status.
NOT_ERRORS: tuple[type[BaseException], ...] = (
    asyncio.CancelledError,
    KeyboardInterrupt,
    GeneratorExit,
)


class _Start(Protocol):
    def __call__(self) -> tuple[Span, float] | None: ...


class _Finish(Protocol):
    def __call__(self, span: Span, started: float, exc: BaseException | None) -> None: ...


def wrap_generator(
    func: Callable[..., Generator[Any, Any, Any]], start: _Start, finish: _Finish
) -> Callable[..., Generator[Any, Any, Any]]:
    """A generator function that profiles each iteration of ``func``'s generators.

    ``start`` returns the new span and its start time, or ``None`` when profiling is off.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        inner = func(*args, **kwargs)
        begun = start()
        if begun is None:
            return (yield from inner)
        span, started = begun
        context = trace.set_span_in_context(span)
        sent: Any = None
        thrown: BaseException | None = None
        try:
            while True:
                token = otel_context.attach(context)
                try:
                    value = inner.send(sent) if thrown is None else inner.throw(thrown)
                finally:
                    otel_context.detach(token)
                sent, thrown = None, None
                try:
                    sent = yield value
                except GeneratorExit:
                    token = otel_context.attach(context)
                    try:
                        inner.close()
                    finally:
                        otel_context.detach(token)
                    raise
                except BaseException as exc:  # thrown in by the consumer: pass it on
                    thrown = exc
        except StopIteration as stop:
            finish(span, started, None)
            return stop.value
        except BaseException as exc:
            finish(span, started, exc)
            raise

    return wrapper


def wrap_async_generator(
    func: Callable[..., AsyncGenerator[Any, Any]], start: _Start, finish: _Finish
) -> Callable[..., AsyncGenerator[Any, Any]]:
    """An async generator function that profiles each iteration of ``func``'s generators."""

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        inner = func(*args, **kwargs)
        begun = start()
        span, started = begun if begun is not None else (None, 0.0)
        context = trace.set_span_in_context(span) if span is not None else None
        sent: Any = None
        thrown: BaseException | None = None
        try:
            while True:
                token = otel_context.attach(context) if context is not None else None
                try:
                    if thrown is None:
                        value = await inner.asend(sent)
                    else:
                        value = await inner.athrow(thrown)
                finally:
                    if token is not None:
                        otel_context.detach(token)
                sent, thrown = None, None
                try:
                    sent = yield value
                except GeneratorExit:
                    token = otel_context.attach(context) if context is not None else None
                    try:
                        await inner.aclose()
                    finally:
                        if token is not None:
                            otel_context.detach(token)
                    raise
                except BaseException as exc:  # thrown in by the consumer: pass it on
                    thrown = exc
        except StopAsyncIteration:
            if span is not None:
                finish(span, started, None)
        except BaseException as exc:
            if span is not None:
                finish(span, started, exc)
            raise

    return wrapper
