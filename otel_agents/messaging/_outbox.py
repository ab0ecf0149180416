"""Adaptive batching of outgoing messages: no added latency when idle, batches under load.

The first message sent starts a drain task that posts it at once. Messages sent while that
request is in flight wait and go together in the next request, up to ``max_batch``. Each
sender awaits its own message's outcome, so errors still reach the right caller; a batch the
post splits into several requests is settled request by request, so a later request's
failure never reaches the senders of messages an earlier one delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncGenerator, Callable

from otel_agents.messaging._message import AgentMessage

__all__ = ["Outbox"]

#: Posts messages, in one or more requests; yields, as each request ends, the outcome of
#: each of its messages by id: ``None`` (accepted) or the error (refused, or its request
#: failed). Raises only for what stops it before every message is settled.
Post = Callable[[list[AgentMessage]], AsyncGenerator[dict[str, BaseException | None], None]]


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
            waiting: dict[str, list[asyncio.Future[None]]] = {}
            for message, future in batch:
                waiting.setdefault(message.message_id, []).append(future)
            try:
                async with contextlib.aclosing(self._post([m for m, _ in batch])) as outcomes:
                    async for settled in outcomes:
                        for message_id, error in settled.items():
                            for future in waiting.pop(message_id, []):
                                _settle(future, error)
            except BaseException as exc:
                for _, future in batch:  # only those no request settled yet
                    _settle(future, exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for _, future in batch:  # post() broke its contract: say so, never "sent"
                _settle(future, RuntimeError("the message was never posted"))


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
