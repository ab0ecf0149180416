"""``streaming``: a generator function whose GenAI scopes stay inside it.

A ``with genai.model_call(...)`` around the ``yield`` of a streaming answer attaches the
call's context in the *consumer's* context, because a generator runs in the context of
whoever iterates it: between two items the chat span is the consumer's current span and its
agent the consumer's attribution, and a stream that is dropped unfinished ends its scope
whenever the garbage collector closes it, on whatever the thread runs then.

:func:`streaming` gives each generator a context of its own: made from the consumer's at the
first item (so the call nests under the agent that started the stream), made current only
while the generator's code runs, and carried from one item to the next. The consumer's
context is never changed; a stream closed early (``close()``, ``break`` then collection,
garbage collection) runs its ``with`` exits in its own context, so the call ends as cut off
(``error.type`` ``GeneratorExit``) without touching anyone else's context.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, ParamSpec, TypeVar, overload

from opentelemetry import context as otel_context

from otel_agents._errors import invalid_type

__all__ = ["streaming"]

P = ParamSpec("P")
Y = TypeVar("Y")
S = TypeVar("S")
R = TypeVar("R")


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
        own = otel_context.get_current()  # the consumer's, at the first item
        sent: Any = None
        thrown: BaseException | None = None
        try:
            while True:
                token = otel_context.attach(own)
                try:
                    value = inner.send(sent) if thrown is None else inner.throw(thrown)
                finally:
                    own = otel_context.get_current()  # what the generator made current
                    otel_context.detach(token)
                sent, thrown = None, None
                try:
                    sent = yield value
                except GeneratorExit:
                    token = otel_context.attach(own)
                    try:
                        inner.close()
                    finally:
                        otel_context.detach(token)
                    raise
                except BaseException as exc:  # thrown in by the consumer: pass it on
                    thrown = exc
        except StopIteration as stop:
            return stop.value

    return wrapper


def _async_streaming(func: Callable[..., AsyncGenerator[Any, Any]]) -> Callable[..., Any]:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        inner = func(*args, **kwargs)
        own = otel_context.get_current()
        sent: Any = None
        thrown: BaseException | None = None
        try:
            while True:
                token = otel_context.attach(own)
                try:
                    if thrown is None:
                        value = await inner.asend(sent)
                    else:
                        value = await inner.athrow(thrown)
                finally:
                    own = otel_context.get_current()
                    otel_context.detach(token)
                sent, thrown = None, None
                try:
                    sent = yield value
                except GeneratorExit:
                    token = otel_context.attach(own)
                    try:
                        await inner.aclose()
                    finally:
                        otel_context.detach(token)
                    raise
                except BaseException as exc:
                    thrown = exc
        except StopAsyncIteration:
            return

    return wrapper
