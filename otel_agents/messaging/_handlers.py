"""Message handlers of one agent: per message type, plus catch-all handlers.

A handler is ``handler(message) -> Any``, a plain function or a coroutine function. Handlers
for the message's type run first, then the catch-all ones, in registration order. The sync
path (``run``) refuses coroutine handlers with a clear error, since it has no loop to run them
on; the async path (``run_async``) accepts both.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any

from otel_agents.messaging._errors import InvalidMessageError, bad_value
from otel_agents.messaging._message import AgentMessage, MessageType, coerce_type

__all__ = ["Handler", "HandlerRegistry"]

Handler = Callable[[AgentMessage], Any]


class HandlerRegistry:
    """The handlers of one agent. Thread-safe to add to while messages are processed."""

    def __init__(self) -> None:
        self._by_type: dict[MessageType | None, tuple[Handler, ...]] = {}
        self._lock = threading.Lock()

    def add(self, handler: Handler, message_type: MessageType | str | None = None) -> None:
        """Run ``handler`` for messages of ``message_type`` (every message when ``None``)."""
        if not callable(handler):
            raise bad_value(InvalidMessageError, "handler", handler, "a callable(message)")
        kind = None if message_type is None else coerce_type(message_type)
        with self._lock:
            self._by_type[kind] = (*self._by_type.get(kind, ()), handler)

    def remove(self, handler: Handler) -> bool:
        """Stop running ``handler``; return whether it was registered."""
        found = False
        with self._lock:
            for kind, handlers in list(self._by_type.items()):
                kept = tuple(h for h in handlers if h is not handler)
                found = found or len(kept) != len(handlers)
                self._by_type[kind] = kept
        return found

    def handlers_for(self, message_type: MessageType) -> tuple[Handler, ...]:
        by_type = self._by_type
        return by_type.get(message_type, ()) + by_type.get(None, ())

    def __bool__(self) -> bool:
        return any(self._by_type.values())

    def run(self, message: AgentMessage) -> None:
        """Run the handlers of ``message`` in this thread; the first exception propagates."""
        for handler in self.handlers_for(message.message_type):
            result = handler(message)
            if inspect.isawaitable(result):
                if inspect.iscoroutine(result):
                    result.close()
                raise InvalidMessageError(
                    f"handler={handler!r} is a coroutine function, which the synchronous "
                    "process_next() cannot await: use process_next_async() or serve()"
                )

    async def run_async(self, message: AgentMessage) -> None:
        """Run the handlers of ``message``, awaiting coroutine handlers."""
        for handler in self.handlers_for(message.message_type):
            result = handler(message)
            if inspect.isawaitable(result):
                await result
