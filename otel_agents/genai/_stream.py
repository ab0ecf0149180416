"""``streaming``: a generator function whose GenAI scopes stay inside it.

A ``with genai.model_call(...)`` around the ``yield`` of a streaming answer attaches the
call's context in the *consumer's* context, because a generator runs in the context of
whoever iterates it: between two items the chat span is the consumer's current span and its
agent the consumer's attribution, and a stream that is dropped unfinished ends its scope
whenever the garbage collector closes it, on whatever the thread runs then.

:func:`streaming` gives each generator a :class:`contextvars.Context` of its own, copied
from the consumer's once, at the first item (so the call nests under the agent or request
that started the stream), and runs every step of the generator inside it
(``ctx.run(inner.send, value)``, the same for ``throw`` and ``close``). The scopes' context
variables are set and reset in that one Context whatever runs each step: a consumer that
reads each item in a fresh copy of its context, on a worker thread (Starlette's
``StreamingResponse`` over a sync generator, ``iterate_in_threadpool``), no longer makes
OpenTelemetry log ``Failed to detach context`` per call, nor leaves an ended call current
for the generator's next scope to nest under. The consumer's context is never changed; a
stream closed early (``close()``, ``break`` then collection, garbage collection) runs its
``with`` exits in its own Context, so the call ends as cut off (``error.type``
``GeneratorExit``) without touching anyone else's context.

An async generator is driven the same way: each ``asend`` / ``athrow`` / ``aclose``
awaitable is stepped with ``ctx.run(step.send, ...)`` by :class:`_InContext`, which hands
whatever it yields to the event loop unchanged (asyncio, trio: no task is created).

Limits: the Context is a snapshot. Context variables the consumer sets after the first item
are not seen inside the generator, and those the generator sets never reach the consumer
(that is the point). One generator cannot be stepped from two threads at once (nor could it
before: ``generator already executing``).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Generator
from typing import Any, ParamSpec, TypeVar, overload

from otel_agents._errors import invalid_type

__all__ = ["streaming"]

P = ParamSpec("P")
Y = TypeVar("Y")
S = TypeVar("S")
R = TypeVar("R")
T = TypeVar("T")


@overload
def streaming(func: Callable[P, Generator[Y, S, R]]) -> Callable[P, Generator[Y, S, R]]: ...
@overload
def streaming(func: Callable[P, AsyncGenerator[Y, S]]) -> Callable[P, AsyncGenerator[Y, S]]: ...
def streaming(func: Callable[P, Any]) -> Callable[P, Any]:
    """Decorate a generator function (sync or async) so that the GenAI scopes it opens stay
    inside it::

        @genai.streaming
        def answer(prompt: str) -> Iterator[str]:
            with genai.model_call("gpt-4o", provider="openai") as call:
                for chunk in client.chat.completions.create(..., stream=True):
                    yield chunk.choices[0].delta.content or ""
                call.set_usage(...)

    Each generator runs in a copy of the consumer's context taken at its first item, kept
    from item to item whichever thread or context copy reads the next one.

    Raises:
        InvalidTypeError: ``func`` is not a generator function.
    """
    if inspect.isasyncgenfunction(func):
        return _async_streaming(func)
    if inspect.isgeneratorfunction(func):
        return _sync_streaming(func)
    raise invalid_type("func", func, "a generator function or an async generator function")


def _sync_streaming(func: Callable[..., Generator[Any, Any, Any]]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        inner = func(*args, **kwargs)
        own = contextvars.copy_context()  # the consumer's, at the first item
        return (yield from _run_in(own, inner))

    return wrapper


class _InContext(Awaitable[T]):
    """Await ``step`` (an ``asend``/``athrow``/``aclose`` awaitable) with each of its steps
    run in ``context``; what it yields goes to the event loop, and what the loop sends or
    throws back (results, cancellation) comes back to it, unchanged."""

    __slots__ = ("_context", "_step")

    def __init__(self, context: contextvars.Context, step: Awaitable[T]) -> None:
        self._context = context
        self._step: Coroutine[Any, Any, T] = step  # type: ignore[assignment]

    def __await__(self) -> Generator[Any, Any, T]:
        return _run_in(self._context, self._step)


def _run_in(
    context: contextvars.Context, step: Generator[Any, Any, T] | Coroutine[Any, Any, T]
) -> Generator[Any, Any, T]:
    """Drive ``step`` (a generator, or a coroutine's awaitable steps) with each of its steps
    run in ``context``: what it yields goes out, and what is sent or thrown back (values,
    cancellation, the consumer's exceptions) comes back to it, unchanged."""
    run = context.run
    sent: Any = None
    thrown: BaseException | None = None
    while True:
        try:
            yielded = run(step.send, sent) if thrown is None else run(step.throw, thrown)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        sent, thrown = None, None
        try:
            sent = yield yielded
        except GeneratorExit:  # the consumer (or the awaiting coroutine) was closed
            run(step.close)
            raise
        except BaseException as exc:  # thrown in: cancellation, the consumer's error
            thrown = exc


def _async_streaming(func: Callable[..., AsyncGenerator[Any, Any]]) -> Callable[..., Any]:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        inner = func(*args, **kwargs)
        own = contextvars.copy_context()  # the consumer's, at the first item
        sent: Any = None
        thrown: BaseException | None = None
        try:
            while True:
                if thrown is None:
                    value = await _InContext(own, inner.asend(sent))
                else:
                    value = await _InContext(own, inner.athrow(thrown))
                sent, thrown = None, None
                try:
                    sent = yield value
                except GeneratorExit:
                    await _InContext(own, inner.aclose())
                    raise
                except BaseException as exc:
                    thrown = exc
        except StopAsyncIteration:
            return

    return wrapper
