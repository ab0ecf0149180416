"""An agent's outcome reports to the hub: what became of each message it was delivered.

The hub keeps a delivered message pending until the recipient reports it ``processed``,
``failed`` or ``expired`` (:mod:`otel_agents.messaging._delivery`), and delivers it again
otherwise. Reports are sent soon after each outcome, in batches (``POST /acks``), from a task
outside any message's trace. A report that cannot be sent is dropped: the hub then delivers
the message again and the agent, which remembers it, reports again.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

from otel_agents._logs import redacting_logger
from otel_agents.messaging._http import MAX_BATCH
from otel_agents.messaging._records import MessageRecord, MessageStatus

__all__ = ["OutcomeReports"]

_logger = redacting_logger("otel_agents.messaging")

#: Reports waiting for the hub, at most (the oldest are dropped: the hub redelivers).
MAX_PENDING = 10_000

#: Posts one batch of reports to the hub (raises when the hub is unreachable or refuses).
Post = Callable[[list[dict[str, Any]]], Awaitable[Any]]


class OutcomeReports:
    """Batches outcome reports and posts them with ``post``."""

    def __init__(self, post: Post) -> None:
        self._post = post
        self._pending: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, record: MessageRecord | None) -> None:
        """Report ``record``'s outcome (nothing while it is still queued)."""
        if record is None or record.status is MessageStatus.QUEUED:
            return
        self._pending.append(
            {
                "message_id": record.message_id,
                "status": record.status.value,
                "error_type": record.error_type,
            }
        )
        del self._pending[:-MAX_PENDING]
        if self._task is None or self._task.done():
            # An empty context: the reports are not part of the message's trace.
            self._task = asyncio.create_task(self._drain(), context=contextvars.Context())

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[:MAX_BATCH]
            del self._pending[:MAX_BATCH]
            try:
                await self._post(batch)
            except Exception as exc:  # the hub redelivers, and we report again then
                _logger.debug("reporting %d outcomes to the hub failed: %s", len(batch), exc)

    async def aclose(self, timeout: float = 2.0) -> None:
        """Give the reports still in flight ``timeout`` seconds to reach the hub."""
        if self._task is not None and not self._task.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._task), timeout=timeout)
