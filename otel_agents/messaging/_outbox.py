"""Adaptive batching of outgoing messages: no added latency when idle, batches under load.

The first message sent starts a drain task that posts it at once. Messages sent while that
request is in flight wait and go together in the next request, up to ``max_batch``. Each
sender awaits its own message's outcome, so errors still reach the right caller.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable

from otel_agents.messaging._message import AgentMessage

__all__ = ["Outbox"]

#: Posts messages; returns the ones refused (by id) or raises when the whole request failed.
Post = Callable[[list[AgentMessage]], Awaitable[dict[str, BaseException]]]


class Outbox:
    """Coalesces concurrent sends into batches for ``post``."""

    def __init__(self, post: Post, *, max_batch: int = 256) -> None:
        self._post = post
        self.max_batch = max_batch
        self._pending: list[tuple[AgentMessage, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, message: AgentMessage) -> None:
        """Queue ``message`` and wait until the hub accepted it (or raise why not)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((message, future))
        if self._task is None or self._task.done():
            # An empty context: the drain task must not inherit one sender's current span.
            self._task = asyncio.create_task(self._drain(), context=contextvars.Context())
        await future

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            try:
                refused = await self._post([message for message, _ in batch])
            except BaseException as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for message, future in batch:
                if future.done():
                    continue
                error = refused.get(message.message_id)
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)
